#include "gearbox/core/machine.hpp"

#include <gtest/gtest.h>

#include "gearbox/core/threads.hpp"

namespace gearbox {

TEST(Machine, CpuInfoReadsCores) {
  const CpuInfo c = cpu_info();
  EXPECT_GT(c.logical_cores, 0);
  EXPECT_FALSE(c.model.empty());
  if (c.fma) {
    EXPECT_TRUE(c.avx2 || c.avx512f);  // every FMA x86 CPU also has AVX2
  }
}

TEST(Machine, ProbeMeasuresPlausibleConstants) {
  const MachineProfile p = probe_machine(1);
  EXPECT_EQ(p.threads, 1);
  // Any machine that runs this suite moves more than 0.5 GB/s and computes > 0.5 GFLOP/s;
  // no modern single core exceeds 1 TB/s or 1 TFLOP/s FP32.
  EXPECT_GT(p.mem_bw_gbs, 0.5);
  EXPECT_LT(p.mem_bw_gbs, 1000);
  EXPECT_GT(p.fp32_gflops, 0.5);
  EXPECT_LT(p.fp32_gflops, 1000);
  const MachineProfile back = MachineProfile::from_json(p.to_json());
  EXPECT_EQ(back.mem_bw_gbs, p.mem_bw_gbs);
}

TEST(Machine, ThreadScopeRestores) {
  const int before = set_threads(2);
  {
    ThreadScope s(1);
    EXPECT_EQ(s.threads(), 1);
  }
  EXPECT_EQ(set_threads(0), default_threads());
  (void)before;
}

TEST(Machine, BlasInfoNamesOpenBlas) {
  EXPECT_NE(blas_info().find("OpenBLAS"), std::string::npos) << blas_info();
}

}  // namespace gearbox
