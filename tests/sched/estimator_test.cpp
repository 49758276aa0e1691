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

// The estimator check, computed live from the shared data: calibrated on the even
// entries of the optimal table, measured on the odd ones. The bounds are what this model
// reaches (15.0% alone, 11.3% with profiled residuals, 2026-11-26) plus a margin; the target
// 3-8% is not met (docs/sched-results.md).
TEST(Analytical, HeldOutErrorStaysBelowBound) {
  if (!test::have_data()) GTEST_SKIP() << "skipped: shared data not found";
  constexpr double kModelOnlyBoundPct = 16.5;
  constexpr double kWithResidualsBoundPct = 12.5;
  const auto r = run_estimate_check(ProfileDb::shared(), ModelCatalog::shared());
  EXPECT_LT(r.mape_check_model, kModelOnlyBoundPct);
  EXPECT_LT(r.mape_check, kWithResidualsBoundPct);
  // Residuals help where they exist and are not used where none was profiled.
  EXPECT_GT(r.check_with_residual, 50);
  EXPECT_LT(r.mape_check_with_residual, r.mape_check_without_residual);
  for (const auto& row : r.rows) {
    if (row.residual_level == 0) {
      EXPECT_DOUBLE_EQ(row.predicted_s, row.model_s) << row.model_key;
    }
  }
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
