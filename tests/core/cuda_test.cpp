#include "gearbox/core/cuda.hpp"

#include <gtest/gtest.h>

namespace gearbox {

TEST(Cuda, DeviceQueryNeverThrows) {
  EXPECT_NO_THROW(cuda_devices());
#ifdef GEARBOX_WITH_CUDA
  EXPECT_TRUE(cuda_built());
#else
  EXPECT_FALSE(cuda_built());
  EXPECT_TRUE(cuda_devices().empty());
#endif
}

TEST(Cuda, CopyBandwidthOnDevice) {
  if (cuda_devices().empty()) GTEST_SKIP() << "skipped: no CUDA device";
  const double gbs = cuda_copy_bandwidth_gbs(std::size_t{64} << 20);
  EXPECT_GT(gbs, 100.0);  // any sm_90 part copies far faster than this
}

}  // namespace gearbox
