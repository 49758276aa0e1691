// KvMemory: one byte budget shared by every KvBlockPool that draws on it, so that the caches
// of several policies (each with its own row format and block size) together never hold more
// resident KV bytes than the budget. A pool charges a block's bytes when it hands the block
// out and returns them when the block is freed; nothing is charged for blocks spilled to host
// memory or a file (offload). Thread-safe.
#pragma once

#include <atomic>
#include <cstddef>

namespace gearbox::serve::kv {

class KvMemory {
 public:
  // Throws Error::usage when `budget_bytes` is 0.
  explicit KvMemory(std::size_t budget_bytes);

  std::size_t budget() const { return budget_; }
  // Bytes charged now (resident blocks of every pool on this budget).
  std::size_t used() const { return used_.load(); }
  std::size_t available() const;
  // The most bytes charged at once since construction (never above the budget).
  std::size_t peak() const { return peak_.load(); }
  // Charges `bytes` when they fit under the budget and returns true; else changes nothing.
  bool try_charge(std::size_t bytes);
  // Returns `bytes` charged earlier.
  void uncharge(std::size_t bytes);

 private:
  std::size_t budget_;
  std::atomic<std::size_t> used_{0};
  std::atomic<std::size_t> peak_{0};
};

}  // namespace gearbox::serve::kv
