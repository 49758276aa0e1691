// HugePageFloats: the buffer is 2 MiB-aligned, zero-filled, writable to its last float, and
// owned exactly once (moves leave the source empty).
#include "gearbox/core/huge_pages.hpp"

#include <gtest/gtest.h>

#include "gearbox/core/error.hpp"

#include <cstdint>
#include <utility>

using gearbox::HugePageFloats;

TEST(HugePageFloats, AlignedZeroedAndWritableToTheEnd) {
  for (std::size_t count : {std::size_t{1}, std::size_t{1000}, std::size_t{(2u << 20) / 4 + 3}}) {
    HugePageFloats b(count);
    ASSERT_NE(b.data(), nullptr);
    EXPECT_EQ(b.size(), count);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.data()) % HugePageFloats::kAlignment, 0u);
    for (std::size_t i = 0; i < count; ++i) ASSERT_EQ(b.data()[i], 0.0f) << i;
    for (std::size_t i = 0; i < count; ++i) b.data()[i] = static_cast<float>(i);
    EXPECT_EQ(b.data()[count - 1], static_cast<float>(count - 1));
  }
}

TEST(HugePageFloats, EmptyAndMoved) {
  HugePageFloats empty(0);
  EXPECT_EQ(empty.data(), nullptr);
  EXPECT_EQ(empty.size(), 0u);
  HugePageFloats a(100);
  a.data()[99] = 5.0f;
  float* p = a.data();
  HugePageFloats b(std::move(a));
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(b.data()[99], 5.0f);
  HugePageFloats c(10);
  c = std::move(b);
  EXPECT_EQ(c.data(), p);
  EXPECT_EQ(c.size(), 100u);
  EXPECT_EQ(b.data(), nullptr);
}

TEST(HugePageFloats, RefusesCountsThatOverflow) {
  EXPECT_THROW(HugePageFloats(static_cast<std::size_t>(-1) / 2), gearbox::Error);
}
