// Float buffers on transparent huge pages: a mapping of its own, 2 MiB-aligned, with
// madvise(MADV_HUGEPAGE). Where the kernel's THP mode is "madvise" (Debian's default) only
// memory asked for this way gets 2 MiB pages; random gathers over a large buffer (a feature
// matrix's rows) then stop missing the TLB on nearly every access.
#pragma once

#include <cstddef>

namespace gearbox {

class HugePageFloats {
 public:
  // `count` zero floats (count 0: an empty buffer, data() nullptr). Throws Error::runtime when
  // the mapping fails; a refused madvise only leaves huge_pages() false.
  explicit HugePageFloats(std::size_t count);
  ~HugePageFloats();
  HugePageFloats(HugePageFloats&& o) noexcept;
  HugePageFloats& operator=(HugePageFloats&& o) noexcept;
  HugePageFloats(const HugePageFloats&) = delete;
  HugePageFloats& operator=(const HugePageFloats&) = delete;

  float* data() { return data_; }
  const float* data() const { return data_; }
  std::size_t size() const { return count_; }
  // Whether the kernel accepted the request for huge pages (it may still use small ones).
  bool huge_pages() const { return advised_; }

  static constexpr std::size_t kAlignment = std::size_t{2} << 20;

 private:
  void release() noexcept;

  float* data_ = nullptr;
  std::size_t count_ = 0, mapped_ = 0;
  bool advised_ = false;
};

}  // namespace gearbox
