#include "gearbox/core/memory_guard.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <unistd.h>

#include <fstream>
#include <limits>
#include <string>

#include "gearbox/core/error.hpp"

namespace gearbox {
namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

Error refusal(const DeclaredSize& d, std::uint64_t limit) {
  try {
    check_declared_size(d, limit);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error for " << d.field << " = " << d.count;
  return Error::runtime("none");
}

TEST(MemoryGuard, SaturatesInsteadOfWrapping) {
  EXPECT_EQ(saturating_mul(3, 7), 21u);
  EXPECT_EQ(saturating_mul(std::uint64_t{1} << 40, std::uint64_t{1} << 40), kMax);
  EXPECT_EQ(saturating_mul(0, kMax), 0u);
}

TEST(MemoryGuard, RefusesMoreItemsThanTheBytesPresentCanHold) {
  // A 60-byte file whose header declares 50,000,000 rows, each needing >= 2 bytes.
  const DeclaredSize d{"g.mtx", "rows", 2, 50000000, 8, 2, 40};
  const Error e = refusal(d, kMax);
  EXPECT_EQ(e.exit_code(), 2);
  EXPECT_EQ(e.file(), "g.mtx");
  EXPECT_EQ(e.field_name(), "rows");
  EXPECT_EQ(e.line(), 2u);
  EXPECT_NE(std::string(e.what()).find("50000000"), std::string::npos) << e.what();
  // The same count is fine when the bytes are there.
  EXPECT_EQ(check_declared_size({"g.mtx", "rows", 2, 50000000, 8, 2, 100000000}, kMax), 400000000u);
}

TEST(MemoryGuard, RefusesMoreMemoryThanTheLimit) {
  const DeclaredSize d{"--graph", "sbm:n", std::nullopt, 100000000, 64, 0, 0};
  const Error e = refusal(d, 1000000000);
  EXPECT_EQ(e.exit_code(), 2);
  EXPECT_EQ(e.field_name(), "sbm:n");
  EXPECT_NE(std::string(e.what()).find("6400000000"), std::string::npos) << e.what();
  EXPECT_EQ(check_declared_size(d, 6400000000u), 6400000000u);
}

TEST(MemoryGuard, OverflowingSizeIsRefusedNotWrapped) {
  // 2^62 items of 8 bytes wraps to 0 in plain arithmetic.
  const DeclaredSize d{"f", "nnz", std::nullopt, std::uint64_t{1} << 62, 8, 0, 0};
  EXPECT_EQ(refusal(d, kMax - 1).exit_code(), 2);
}

TEST(MemoryGuard, AvailableMemoryHonoursTheAddressSpaceLimit) {
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_AS, &old), 0);
  const std::uint64_t before = available_memory_bytes();
  EXPECT_GT(before, 0u);
  // Lower the soft limit to 1 GiB above what the process has mapped, then restore it.
  std::ifstream statm("/proc/self/statm");
  std::uint64_t pages = 0;
  statm >> pages;
  const std::uint64_t mapped = pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::uint64_t limit = mapped + (std::uint64_t{1} << 30);
  if (old.rlim_max != RLIM_INFINITY && old.rlim_max < limit) GTEST_SKIP() << "hard limit lower";
  rlimit lowered = old;
  lowered.rlim_cur = limit;
  ASSERT_EQ(::setrlimit(RLIMIT_AS, &lowered), 0);
  const std::uint64_t under = available_memory_bytes();
  bool refused = false;
  try {
    check_memory(std::uint64_t{2} << 30, "f", "rows", "x");
  } catch (const Error&) {
    refused = true;
  }
  ASSERT_EQ(::setrlimit(RLIMIT_AS, &old), 0);
  EXPECT_TRUE(refused) << "2 GiB allowed under a 1 GiB headroom";
  EXPECT_LE(under, std::uint64_t{1} << 30);
  EXPECT_GT(under, std::uint64_t{1} << 29);  // the headroom, not zero
}

}  // namespace
}  // namespace gearbox
