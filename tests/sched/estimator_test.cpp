#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "gearbox/sched/analytical_estimator.hpp"
#include "gearbox/sched/db_estimator.hpp"
#include "gearbox/sched/estimate_check.hpp"
#include "test_support.hpp"

namespace gearbox::sched {
namespace {

double round3(double v) {
  return std::round(v * 1000) / 1000;
}

class DbEstimatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::have_data()) GTEST_SKIP() << "skipped: shared data not found";
  }
};

TEST_F(DbEstimatorTest, ExactKeyUsesTheMeasuredTime) {
  const auto& cat = ModelCatalog::shared();
  const auto& db = ProfileDb::shared();
  DbEstimator est(db, cat);
  const JobShape job{cat.get("bert__1.3B"), 256};
  const auto e2e = db.optimal("bert_1.3B_256", "1_a100_1_n_4_d");
  ASSERT_TRUE(e2e.has_value());
  const double want = round3(256 / round3(256 / *e2e));
  EXPECT_DOUBLE_EQ(est.best_iter_time(job, pool_for_type("a100"), 1, 4), want);
}

TEST_F(DbEstimatorTest, RelaxedLocalityScalesByPointNine) {
  const auto& cat = ModelCatalog::shared();
  const auto& db = ProfileDb::shared();
  DbEstimator est(db, cat);
  // bert_1.3B_256 has 1_v100_1_n_8_d but not 2_v100_2_n_4_d: best locality of 8 V100s is 1x8,
  // log2(8/4) = 1 step of 0.9 on throughput.
  ASSERT_FALSE(db.optimal("bert_1.3B_256", "2_v100_2_n_4_d"));
  const double e2e = *db.optimal("bert_1.3B_256", "1_v100_1_n_8_d");
  const double thr = round3(256 / e2e) * 0.9;
  const JobShape job{cat.get("bert__1.3B"), 256};
  EXPECT_DOUBLE_EQ(est.best_iter_time(job, pool_for_type("v100"), 2, 4), round3(256 / thr));
  // The DP query skips the factor.
  EXPECT_DOUBLE_EQ(est.dp_iter_time(job, pool_for_type("v100"), 2, 4, false),
                   round3(256 / round3(256 / e2e)));
}

TEST_F(DbEstimatorTest, LargerModelFallbackScalesByOnePointEight) {
  const auto& cat = ModelCatalog::shared();
  const auto& db = ProfileDb::shared();
  DbEstimator est(db, cat);
  // moe_690M_256 lacks 2_a100_2_n_2_d; moe_1.3B_256 (next size) has it.
  ASSERT_FALSE(db.optimal("moe_690M_256", "2_a100_2_n_2_d"));
  const double e2e = *db.optimal("moe_1.3B_256", "2_a100_2_n_2_d");
  const double thr = round3(256 / e2e) * 1.8;
  const JobShape job{cat.get("moe__690M"), 256};
  EXPECT_DOUBLE_EQ(est.best_iter_time(job, pool_for_type("a100"), 2, 2), round3(256 / thr));
}

TEST_F(DbEstimatorTest, DpMemoryGateFollowsTheArtifactRule) {
  const auto& cat = ModelCatalog::shared();
  DbEstimator est(ProfileDb::shared(), cat);
  // bert_1.3B_256 on 2 GPUs needs 23.89 GB: 23.89*1.2 = 28.7 > 0.8*24 (A10) but < 0.8*40 (A100).
  const JobShape job{cat.get("bert__1.3B"), 256};
  EXPECT_TRUE(est.dp_out_of_memory(job, pool_for_type("a10"), 2));
  EXPECT_FALSE(est.dp_out_of_memory(job, pool_for_type("a100"), 2));
  EXPECT_TRUE(est.dp_out_of_memory(job, pool_for_type("a100"), 1));  // -1 = OOM
  EXPECT_TRUE(est.dp_out_of_memory({cat.get("bert__6.7B"), 256}, pool_for_type("a100"), 16));
  EXPECT_TRUE(std::isinf(est.dp_iter_time(job, pool_for_type("a10"), 1, 2, true)));
}

TEST(Analytical, MoreGpusFasterAndPlansMultiplyOut) {
  const auto cat = test::tiny_catalog();
  AnalyticalEstimator est(cat);
  const JobShape job{cat.get("bert__1.3B"), 256};
  const GpuPool a100 = pool_for_type("a100");
  double prev = kInfeasible;
  for (int n : {1, 2, 4}) {
    const double t = est.evaluate(job, a100, 1, n, 1, n, 1).iter_s;
    EXPECT_LT(t, prev);
    prev = t;
  }
  for (const auto& p : est.plans(job, a100, 2, 4, 0)) EXPECT_EQ(p.pp * p.dp * p.tp, 8);
  EXPECT_TRUE(std::isinf(est.evaluate(job, a100, 1, 4, 3, 1, 1).iter_s));  // 3*1*1 != 4
  // Tensor parallelism across nodes pays the network: slower than inside a node.
  const double tp_in = est.evaluate(job, a100, 2, 4, 1, 2, 4).tp_comm_s;
  const double tp_out = est.evaluate(job, a100, 4, 2, 1, 2, 4).tp_comm_s;
  EXPECT_GT(tp_out, tp_in);
}

TEST(Analytical, CalibratedErrorIsReportedPerGroup) {
  if (!test::have_data()) GTEST_SKIP() << "skipped: shared data not found";
  const auto r = run_estimate_check(ProfileDb::shared(), ModelCatalog::shared());
  EXPECT_GT(r.check_entries, 100);
  EXPECT_GT(r.calibration_entries, 100);
  int total = 0;
  for (const auto& g : r.by_gpus) total += g.entries;
  EXPECT_EQ(total, r.check_entries);
  EXPECT_TRUE(std::isfinite(r.mape_check));
  // Calibration must beat the uncalibrated model on the held-out half.
  AnalyticalEstimator raw(ModelCatalog::shared());
  double raw_err = 0;
  int n = 0;
  const auto entries = optimal_entries(ProfileDb::shared(), ModelCatalog::shared());
  for (std::size_t i = 1; i < entries.size(); i += 2) {
    const auto plans = raw.plans(entries[i].job, pool_for_type(entries[i].gpu_type),
                                 entries[i].hosts, entries[i].per_host, 0);
    if (plans.empty()) continue;
    raw_err += std::fabs(plans.front().iter_s / entries[i].e2e_s - 1) * 100;
    ++n;
  }
  EXPECT_LT(r.mape_check, raw_err / n);
}

// The closed-form model worked by hand on bert-760M (tiny catalog: seq 1024, hidden 1536,
// 24 layers, vocabulary 51200, fp16; 760e6 parameters), batch 128, on A100-40s (312 TFLOP/s
// fp16, NVLink 600 GB/s, network 25 GB/s, 40 GB) with the uncalibrated parameters: efficiency
// 0.3 x s/(s + 4) for s samples per GPU and microbatch, links at 0.7 of their peak, 20 us per
// collective step, half the DP all-reduce hidden, 4 microbatches per pipeline stage.
// Forward FLOPs per sample: 1024 x (2 x 12 x 24 x 1536^2 + 4 x 24 x 1024 x 1536 + 2 x 51200 x
// 1536) = 1,707,249,500,160; an iteration is 4x the forward (backward + recomputation).
constexpr double kFwd = 1707249500160.0;
constexpr double kBoundary = 1024.0 * 1536 * 2;  // activation bytes per sample at a boundary

class HandComputed : public ::testing::Test {
 protected:
  const ModelCatalog cat = test::tiny_catalog();
  AnalyticalEstimator est{cat};
  const JobShape job{cat.get("bert-760M"), 128};
  const GpuPool a100 = pool_for_type("a100");
};

TEST_F(HandComputed, OneGpuMatchesTheHandComputedIteration) {
  const PlanEstimate e = est.evaluate(job, a100, 1, 1, 1, 1, 1);
  // 4 x kFwd x 128 / (312e12 x 0.3 x 128 / 132) = 9.6306 s; no communication.
  EXPECT_NEAR(e.iter_s, 9.63063820603077, 1e-9);
  EXPECT_NEAR(e.compute_s, 4 * kFwd * 128 / (312e12 * 0.3 * 128 / 132), 1e-9);
  EXPECT_EQ(e.tp_comm_s + e.dp_comm_s + e.pp_comm_s + e.bubble_s, 0);
  // Memory: weights 760e6 x 6 B + optimizer 760e6 x 8 B + activations 128 x kBoundary x 24
  // layers + 1 GB = 21.30 GB; 21.30 x 1.2 <= 0.8 x 40: fits.
  EXPECT_NEAR(e.mem_gb, 21.303676416, 1e-9);
  EXPECT_TRUE(e.fits);
}

TEST_F(HandComputed, DataParallelAddsTheHandComputedAllReduce) {
  const PlanEstimate e = est.evaluate(job, a100, 1, 2, 1, 2, 1);
  // 64 samples per GPU: compute 4 x kFwd x 64 / (312e12 x 0.3 x 64 / 68) = 4.9612 s.
  EXPECT_NEAR(e.compute_s, 4.96123786371282, 1e-9);
  // Ring all-reduce of 760e6 x 2 B of gradients over NVLink (600/2 GB/s x 0.7) inside the node,
  // half hidden: 0.5 x (2 x 1 x 20e-6 + 2 x 1/2 x 1.52e9 / 2.1e11) = 3.639 ms.
  EXPECT_NEAR(e.dp_comm_s, 0.003639047619047619, 1e-12);
  EXPECT_NEAR(e.iter_s, 4.964876911331868, 1e-9);
  // Optimizer state sharded over the 2 replicas, activations of 64 samples: 13.43 GB.
  EXPECT_NEAR(e.mem_gb, 13.431838208, 1e-9);
}

TEST_F(HandComputed, PipelineAcrossNodesPaysBubbleAndNetwork) {
  const PlanEstimate e = est.evaluate(job, a100, 2, 1, 2, 1, 1);
  // 2 stages of 12 layers, m = min(128, 4 x 2) = 8 microbatches of 16 samples:
  // compute 4 x kFwd x 128 / 2 / (312e12 x 0.3 x 16 / 20) = 5.8368 s, bubble 1/8 of it.
  EXPECT_EQ(e.microbatches, 8);
  EXPECT_NEAR(e.compute_s, 5.836750427897436, 1e-9);
  EXPECT_NEAR(e.bubble_s, 5.836750427897436 / 8, 1e-9);
  // Sends between the nodes: 2 x (8 + 2 - 2) x (20e-6 + 16 x kBoundary / (25e9 x 0.7)).
  EXPECT_NEAR(e.pp_comm_s, 2 * 8 * (20e-6 + 16 * kBoundary / 17.5e9), 1e-12);
  EXPECT_NEAR(e.pp_comm_s, 0.046337506742857144, 1e-12);
  EXPECT_NEAR(e.iter_s, 6.612681738127472, 1e-9);
  // Half the weights per stage, 12 layers of activations: 11.15 GB.
  EXPECT_NEAR(e.mem_gb, 11.151838208, 1e-9);
}

TEST_F(HandComputed, TensorParallelAcrossNodesPaysTheNetworkPerLayer) {
  const PlanEstimate e = est.evaluate(job, a100, 2, 1, 1, 1, 2);
  // 4 all-reduces per layer of the whole batch's boundary activation over the network:
  // 24 x 4 x (20e-6 + 2 x 1/2 x 128 x kBoundary / 17.5e9) = 2.2108 s.
  EXPECT_NEAR(e.tp_comm_s, 2.210760323657143, 1e-9);
  EXPECT_NEAR(e.iter_s, 4.96123786371282 + 2.210760323657143, 1e-9);
}

TEST_F(HandComputed, BestPlanAppliesProfiledResidualsAndTheMemoryGate) {
  // On one GPU the only plan is 1 x 1 x 1: the hand-computed 9.6306 s.
  EXPECT_NEAR(est.best_iter_time(job, a100, 1, 1), 9.63063820603077, 1e-9);
  // A placement residual of log 2 doubles it; the model size's own residual takes precedence.
  est.params().log_residual[placement_residual_key("a100", 1, 1)] = std::log(2.0);
  EXPECT_NEAR(est.best_iter_time(job, a100, 1, 1), 2 * 9.63063820603077, 1e-9);
  est.params().log_residual[residual_key("bert_760M_128", "a100", 1, 1)] = std::log(0.5);
  EXPECT_NEAR(est.best_iter_time(job, a100, 1, 1), 0.5 * 9.63063820603077, 1e-9);
  est.params().use_residuals = false;
  EXPECT_NEAR(est.best_iter_time(job, a100, 1, 1), 9.63063820603077, 1e-9);
  // bert-1.3B at batch 256 on one A100: 1.3e9 x 14 B + 256 x 1024 x 2048 x 2 B x 24 layers
  // + 1 GB = 44.97 GB > 0.8 x 40 / 1.2: out of memory, so no plan and no DP time.
  const JobShape big{cat.get("bert-1.3B"), 256};
  EXPECT_NEAR(est.evaluate(big, a100, 1, 1, 1, 1, 1).mem_gb, 44.969803776, 1e-9);
  EXPECT_TRUE(std::isinf(est.best_iter_time(big, a100, 1, 1)));
  EXPECT_TRUE(std::isinf(est.dp_iter_time(big, a100, 1, 1, true)));
  EXPECT_TRUE(std::isfinite(est.dp_iter_time(big, a100, 1, 1, false)));
}

// Calibration sees only its half: every residual comes from an even (calibration) entry, so a
// held-out entry is never its own residual.
TEST(Analytical, ResidualsComeOnlyFromCalibrationEntries) {
  if (!test::have_data()) GTEST_SKIP() << "skipped: shared data not found";
  AnalyticalEstimator est(ModelCatalog::shared());
  est.calibrate(ProfileDb::shared(), CalibrationSplit::kEven);
  const auto entries = optimal_entries(ProfileDb::shared(), ModelCatalog::shared());
  std::set<std::string> even_keys;
  for (std::size_t i = 0; i < entries.size(); i += 2) {
    const auto& e = entries[i];
    even_keys.insert(residual_key(e.model_key, e.gpu_type, e.hosts, e.per_host));
    even_keys.insert(placement_residual_key(e.gpu_type, e.hosts, e.per_host));
  }
  ASSERT_FALSE(est.params().log_residual.empty());
  for (const auto& [k, v] : est.params().log_residual) {
    EXPECT_TRUE(even_keys.count(k)) << k;
    EXPECT_TRUE(std::isfinite(v)) << k;
  }
  // With residuals off the estimator is the closed-form model.
  const auto& e = entries[1];
  const GpuPool pool = pool_for_type(e.gpu_type);
  est.params().use_residuals = false;
  const double t = est.model_iter_time(e.job, pool, e.hosts, e.per_host);
  ASSERT_TRUE(std::isfinite(t));
  EXPECT_DOUBLE_EQ(est.best_iter_time(e.job, pool, e.hosts, e.per_host), t);
}

}  // namespace
}  // namespace gearbox::sched
