#include "output_pool.hpp"

#include <ATen/EmptyTensor.h>
#include <c10/core/impl/alloc_cpu.h>

#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace gearbox_py {
namespace {

constexpr std::size_t kDefaultLimitMiB = 1024;

std::size_t limit_from_env() {
  const char* v = std::getenv("GEARBOX_GNN_OUTPUT_CACHE_MB");
  if (v == nullptr || *v == '\0') return kDefaultLimitMiB << 20;
  char* end = nullptr;
  const unsigned long long mib = std::strtoull(v, &end, 10);
  TORCH_CHECK_VALUE(end != v && *end == '\0' && mib <= (1ULL << 30),
                    "GEARBOX_GNN_OUTPUT_CACHE_MB must be a whole number of MiB, got '", v, "'");
  return static_cast<std::size_t>(mib) << 20;
}

// The allocator behind pooled tensors: allocate() takes a free block of exactly n bytes when
// there is one, else a fresh one from c10::alloc_cpu (torch's alignment and options);
// a freed tensor's block comes back through give_back().
class OutputPool final : public c10::Allocator {
 public:
  OutputPool() : limit_(limit_from_env()) {}

  c10::DataPtr allocate(std::size_t n) override {
    void* p = take(n);
    if (p == nullptr) p = c10::alloc_cpu(n);
    auto* block = new Block{p, n};
    return {p, block, &give_back, c10::Device(c10::DeviceType::CPU)};
  }

  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }

  std::size_t release() {
    std::vector<void*> out;
    std::size_t bytes = 0;
    {
      std::lock_guard lock(mu_);
      for (auto& [size, blocks] : free_) {
        bytes += size * blocks.size();
        out.insert(out.end(), blocks.begin(), blocks.end());
      }
      free_.clear();
      cached_ = 0;
    }
    for (void* p : out) c10::free_cpu(p);
    return bytes;
  }

  std::size_t cached() {
    std::lock_guard lock(mu_);
    return cached_;
  }
  std::size_t limit() const { return limit_; }

 private:
  struct Block {
    void* data;
    std::size_t size;
  };

  void* take(std::size_t n) {
    std::lock_guard lock(mu_);
    auto it = free_.find(n);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    cached_ -= n;
    return p;
  }

  // The DataPtr deleter: runs when the last tensor over the block is gone (any thread).
  static void give_back(void* ctx);

  bool keep(void* p, std::size_t n) {
    if (p == nullptr || n == 0) return false;
    std::lock_guard lock(mu_);
    if (cached_ + n > limit_) return false;
    free_[n].push_back(p);
    cached_ += n;
    return true;
  }

  const std::size_t limit_;
  std::mutex mu_;
  std::unordered_map<std::size_t, std::vector<void*>> free_;  // by exact size
  std::size_t cached_ = 0;
};

// Never destroyed: tensors may be freed during interpreter shutdown, after static destructors.
OutputPool& pool() {
  static auto* p = new OutputPool();
  return *p;
}

void OutputPool::give_back(void* ctx) {
  auto* block = static_cast<Block*>(ctx);
  if (!pool().keep(block->data, block->size)) c10::free_cpu(block->data);  // free_cpu(null): no-op
  delete block;
}

}  // namespace

torch::Tensor pooled_empty(int64_t rows, int64_t cols) {
  return at::detail::empty_generic({rows, cols}, &pool(),
                                   c10::DispatchKeySet(c10::DispatchKey::CPU),
                                   c10::ScalarType::Float, std::nullopt);
}

std::size_t release_cached() {
  return pool().release();
}

std::size_t cached_bytes() {
  return pool().cached();
}

std::size_t cache_limit() {
  return pool().limit();
}

}  // namespace gearbox_py
