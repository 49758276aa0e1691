#include "gearbox/core/huge_pages.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "gearbox/core/error.hpp"

namespace gearbox {

HugePageFloats::HugePageFloats(std::size_t count) : count_(count) {
  if (count == 0) return;
  if (count > (std::numeric_limits<std::size_t>::max() - 2 * kAlignment) / sizeof(float))
    throw Error::runtime("huge-page buffer: " + std::to_string(count) + " floats is too many");
  const std::size_t bytes = (count * sizeof(float) + kAlignment - 1) / kAlignment * kAlignment;
  // Map one alignment more than needed and trim both ends to a 2 MiB boundary.
  mapped_ = bytes + kAlignment;
  void* p = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    const int e = errno;
    throw Error::runtime("huge-page buffer: mmap of " + std::to_string(mapped_) +
                         " bytes failed: " + std::strerror(e));
  }
  auto* base = static_cast<char*>(p);
  const auto addr = reinterpret_cast<std::uintptr_t>(base);
  const std::size_t head = (kAlignment - addr % kAlignment) % kAlignment;
  if (head > 0) munmap(base, head);
  const std::size_t tail = mapped_ - head - bytes;
  if (tail > 0) munmap(base + head + bytes, tail);
  mapped_ = bytes;
  data_ = reinterpret_cast<float*>(base + head);
  advised_ = madvise(data_, mapped_, MADV_HUGEPAGE) == 0;
}

HugePageFloats::~HugePageFloats() {
  release();
}

HugePageFloats::HugePageFloats(HugePageFloats&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)),
      count_(std::exchange(o.count_, 0)),
      mapped_(std::exchange(o.mapped_, 0)),
      advised_(std::exchange(o.advised_, false)) {}

HugePageFloats& HugePageFloats::operator=(HugePageFloats&& o) noexcept {
  if (this != &o) {
    release();
    data_ = std::exchange(o.data_, nullptr);
    count_ = std::exchange(o.count_, 0);
    mapped_ = std::exchange(o.mapped_, 0);
    advised_ = std::exchange(o.advised_, false);
  }
  return *this;
}

void HugePageFloats::release() noexcept {
  if (data_) munmap(data_, mapped_);
  data_ = nullptr;
  count_ = mapped_ = 0;
}

}  // namespace gearbox
