// Adaptive selection: every candidate computes the same product; the selector falls back to
// plain CSR when that is fastest, picks a split when it is much faster, and reuses its cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>

#include "gearbox/core/error.hpp"
#include "gearbox/gnn/device_registry.hpp"
#include "gearbox/gnn/kernels.hpp"
#include "gearbox/gnn/plan.hpp"
#include "gearbox/gnn/reorder.hpp"
#include "gearbox/testing/temp_dir.hpp"

using namespace gearbox::gnn;

namespace {
std::vector<float> rnd(std::size_t n) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Dense cliques of 48 nodes on the diagonal plus a sparse random remainder.
Csr cliques(index_t n) {
  Coo coo;
  coo.rows = coo.cols = n;
  std::mt19937 rng(1);
  for (index_t i = 0; i < n; ++i) {
    const index_t b = i / 48 * 48;
    for (index_t j = b; j < std::min<index_t>(n, b + 48); ++j) {
      coo.row.push_back(i);
      coo.col.push_back(j);
    }
    coo.row.push_back(i);
    coo.col.push_back(static_cast<index_t>(rng() % n));
  }
  return gcn_normalize(symmetrize_pattern(coo_to_csr(coo, Duplicates::kKeepOne)));
}

class PlanTest : public ::testing::Test {
 protected:
  void SetUp() override { setenv("GEARBOX_CACHE", dir_.path().c_str(), 1); }
  gearbox::testing::TempDir dir_;
};
}  // namespace

TEST_F(PlanTest, EveryCandidateComputesTheSameProduct) {
  const Csr a = cliques(1000);
  const Ordering o = compute_ordering(a, ReorderMethod::kNone, 48, 0);
  const auto blocks = diagonal_blocks(a, o.block_starts);
  gearbox::MachineProfile m;
  m.mem_bw_gbs = 10;
  m.fp32_gflops = 100;
  for (int f : {3, 16}) {
    const auto cands = propose_candidates(a, blocks, f, m);
    EXPECT_GE(cands.size(), 3u);
    const auto x = rnd(1000u * f);
    std::vector<float> want(1000u * f), got(1000u * f, 7.f);
    spmm_reference(a, x.data(), f, want.data(), false);
    for (const auto& c : cands) {
      ExecPlan p(std::make_shared<const Csr>(a), blocks, c);
      p.run(x.data(), f, got.data());
      for (std::size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 1e-4f) << c.label << " f=" << f;
    }
  }
}

TEST_F(PlanTest, EveryCandidateInTheCallersOrderComputesTheSameProduct) {
  // X and Y in the caller's order, A the planned (permuted) matrix: candidates whose kernels
  // all fuse the permutation run "fused", the others (dense blocks, 8x8 tiles) "copied";
  // every one equals the reference computed on permuted copies.
  const index_t n = 1000;
  const Csr a = cliques(n);
  const Ordering o = compute_ordering(a, ReorderMethod::kNone, 48, 0);
  const auto blocks = diagonal_blocks(a, o.block_starts);
  std::vector<index_t> old_of_new(n);
  for (index_t i = 0; i < n; ++i) old_of_new[i] = i;
  std::shuffle(old_of_new.begin(), old_of_new.end(), std::mt19937(4));
  const auto order = std::make_shared<const std::vector<index_t>>(old_of_new);
  gearbox::MachineProfile m;
  m.mem_bw_gbs = 10;
  m.fp32_gflops = 100;
  std::map<std::string, int> modes;
  for (int f : {3, 16}) {
    const auto x = rnd(static_cast<std::size_t>(n) * f);
    std::vector<float> xp(x.size()), yp(x.size()), want(x.size()), got(x.size(), 7.f);
    for (index_t i = 0; i < n; ++i)
      std::copy_n(x.begin() + static_cast<std::ptrdiff_t>(old_of_new[i]) * f, f,
                  xp.begin() + static_cast<std::ptrdiff_t>(i) * f);
    spmm_reference(a, xp.data(), f, yp.data(), false);
    for (index_t i = 0; i < n; ++i)
      std::copy_n(yp.begin() + static_cast<std::ptrdiff_t>(i) * f, f,
                  want.begin() + static_cast<std::ptrdiff_t>(old_of_new[i]) * f);
    for (const auto& c : propose_candidates(a, blocks, f, m)) {
      ExecPlan p(std::make_shared<const Csr>(a), blocks, c, order);
      bool fusable = true;
      for (const auto& k : c.kernel)
        fusable = fusable && (k.empty() || k == "csr" || k == "dcsr" || k == "panel");
      EXPECT_STREQ(p.caller_order_mode(), fusable ? "fused" : "copied") << c.label;
      ++modes[p.caller_order_mode()];
      p.run(x.data(), f, got.data());
      for (std::size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 1e-4f) << c.label << " f=" << f;
    }
  }
  EXPECT_GT(modes["fused"], 0);
  EXPECT_GT(modes["copied"], 0);
}

TEST_F(PlanTest, ASplitMeasuredSlowerThanCsrLosesEvenWhereTheModelPredictsItWins) {
  // Cliques of 48: dense diagonal blocks, where the cost model ranks the splits first. The
  // injected timer makes every split measure 3 ms against plain CSR's 2 ms: CSR must be chosen.
  const Csr a = cliques(960);
  const Ordering o = compute_ordering(a, ReorderMethod::kNone, 48, 0);
  SelectorOptions opt{.use_cache = false, .recheck_after = 0};
  int split_runs = 0;
  opt.timer = [&](const Candidate& c, const std::function<void()>& run) {
    run();
    if (c.whole_csr()) return 2.0;
    ++split_runs;
    return 3.0;
  };
  AdaptiveAggregator agg(a, o.block_starts, opt, 2);
  EXPECT_TRUE(agg.plan_for(16).candidate().whole_csr()) << agg.explain().dump();
  EXPECT_GT(split_runs, 0) << "at least one split was measured";
}

TEST_F(PlanTest, ASplitMeasuredTwiceAsFastAsCsrWins) {
  // The same graph and selector, the injected costs reversed: 1 ms per split, 2 ms for CSR.
  const Csr a = cliques(960);
  const Ordering o = compute_ordering(a, ReorderMethod::kNone, 48, 0);
  SelectorOptions opt{.use_cache = false, .recheck_after = 0};
  opt.timer = [&](const Candidate& c, const std::function<void()>& run) {
    run();
    return c.whole_csr() ? 2.0 : 1.0;
  };
  AdaptiveAggregator agg(a, o.block_starts, opt, 2);
  const Candidate& c = agg.plan_for(16).candidate();
  EXPECT_FALSE(c.whole_csr()) << agg.explain().dump();
  ASSERT_TRUE(c.measured_ms.has_value());
  EXPECT_DOUBLE_EQ(*c.measured_ms, 1.0);
}

TEST_F(PlanTest, CsrWithoutPrefetchIsMeasuredWhereCsrPrefetchesAndKeptOnlyWhenClearlyFaster) {
  // From F > kCsrNoPrefetchMaxWidth the selector measures "csr-nopf" (the same loop without
  // software prefetch) beside plain CSR and keeps it only when clearly faster; at or below
  // that width plain CSR does not prefetch and the candidate is not proposed.
  const Csr a = cliques(960);
  const Ordering o = compute_ordering(a, ReorderMethod::kNone, 48, 0);
  const int wide = kCsrNoPrefetchMaxWidth + 16;
  for (const double nopf_ms : {1.0, 1.96}) {
    std::map<std::string, int> runs;
    SelectorOptions opt{.use_cache = false, .recheck_after = 0};
    opt.timer = [&](const Candidate& c, const std::function<void()>& run) {
      run();
      ++runs[c.label];
      return c.whole_csr() ? 2.0 : c.label == "csr-nopf" ? nopf_ms : 3.0;
    };
    AdaptiveAggregator agg(a, o.block_starts, opt, 2);
    const auto x = rnd(960u * wide);
    std::vector<float> want(x.size()), got(x.size(), 7.f);
    spmm_reference(a, x.data(), wide, want.data(), false);
    agg.run(x.data(), wide, got.data());
    for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-4f);
    EXPECT_EQ(runs["csr-nopf"], opt.reps) << "measured in every round";
    const bool clear = nopf_ms < 2.0 * kSelectMargin;  // 1.96 / 2 = 0.98: a tie, CSR kept
    EXPECT_EQ(agg.kernels()[std::to_string(wide)], clear ? "csr-nopf" : "csr")
        << agg.explain().dump();
    runs.clear();
    agg.plan_for(kCsrNoPrefetchMaxWidth);
    EXPECT_EQ(runs.count("csr-nopf"), 0u) << "plain CSR does not prefetch at this width";
    EXPECT_GT(runs["csr"], 0);
  }
}

TEST_F(PlanTest, ForcedCsrChoosesWholeCsrWhateverTheTimings) {
  // --kernels csr: plain CSR even when a split would measure ten times faster.
  const Csr a = cliques(960);
  const Ordering o = compute_ordering(a, ReorderMethod::kNone, 48, 0);
  SelectorOptions opt{.use_cache = false, .force_csr = true};
  opt.timer = [](const Candidate& c, const std::function<void()>& run) {
    run();
    return c.whole_csr() ? 10.0 : 1.0;
  };
  AdaptiveAggregator forced(a, o.block_starts, opt, 2);
  EXPECT_TRUE(forced.plan_for(8).candidate().whole_csr());
}

TEST_F(PlanTest, ChoiceIsCachedAndReused) {
  const Csr a = cliques(960);
  const Ordering o = compute_ordering(a, ReorderMethod::kNone, 48, 0);
  AdaptiveAggregator first(a, o.block_starts, {}, 2);
  const std::string label = first.plan_for(16).candidate().label;
  AdaptiveAggregator second(a, o.block_starts, {}, 2);
  EXPECT_EQ(second.plan_for(16).candidate().label, label);
  EXPECT_TRUE(second.explain()["16"]["cached"].get<bool>());
}

TEST_F(PlanTest, MeasuresInterleavedByMedianAndRecheckSwitchesToCsr) {
  // An injected timer: runs the candidate (so results stay real) but reports made-up times.
  // During selection every split "takes" 1 ms and plain CSR 2 ms, with one 100 ms outlier per
  // split that a median ignores; after warm-up the splits "take" 5 ms: the re-check must
  // switch to CSR.
  const Csr a = cliques(960);
  const Ordering o = compute_ordering(a, ReorderMethod::kNone, 48, 0);
  bool slow_now = false;
  std::vector<std::string> order;
  std::map<std::string, int> seen;
  SelectorOptions opt{.use_cache = false, .recheck_after = 3};
  opt.timer = [&](const Candidate& c, const std::function<void()>& run) {
    run();
    order.push_back(c.label);
    if (c.whole_csr()) return 2.0;
    if (seen[c.label]++ == 0) return 100.0;
    return slow_now ? 5.0 : 1.0;
  };
  AdaptiveAggregator agg(a, o.block_starts, opt, 2);
  const int f = 16;
  const auto x = rnd(960u * f);
  std::vector<float> want(960u * f), got(960u * f);
  spmm_reference(a, x.data(), f, want.data(), false);
  agg.run(x.data(), f, got.data());
  ASSERT_FALSE(agg.plan_for(f).candidate().whole_csr()) << "the 1 ms split wins the selection";
  const std::size_t k = seen.size() + 1;  // splits and plain CSR
  ASSERT_GE(k, 2u);
  ASSERT_EQ(order.size(), k * opt.reps);
  std::vector<std::string> first_round(order.begin(), order.begin() + k);
  std::sort(first_round.begin(), first_round.end());
  EXPECT_EQ(std::adjacent_find(first_round.begin(), first_round.end()), first_round.end());
  bool reordered = false;
  for (std::size_t r = 1; r < static_cast<std::size_t>(opt.reps); ++r) {
    std::vector<std::string> round(order.begin() + r * k, order.begin() + (r + 1) * k);
    reordered = reordered || !std::equal(round.begin(), round.end(), order.begin());
    std::sort(round.begin(), round.end());
    EXPECT_EQ(round, first_round) << "round " << r << " runs every candidate once";
  }
  EXPECT_TRUE(reordered) << "the rounds do not all run the candidates in one order";
  const auto explained = agg.explain();  // the loop reads into it: keep it alive
  for (const auto& cj : explained[std::to_string(f)]["candidates"])
    if (!cj["measured_ms"].is_null()) {
      EXPECT_DOUBLE_EQ(cj["measured_ms"].get<double>(), cj["whole_csr"].get<bool>() ? 2.0 : 1.0)
          << "median, not mean, of the runs";
    }
  slow_now = true;
  for (int call = 0; call < 3; ++call) {
    std::fill(got.begin(), got.end(), 0.f);
    agg.run(x.data(), f, got.data());
    for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-4f);
  }
  EXPECT_TRUE(agg.plan_for(f).candidate().whole_csr()) << "re-check switched to CSR";
  const auto rc = agg.explain()[std::to_string(f)]["recheck"];
  EXPECT_TRUE(rc["switched_to_csr"].get<bool>());
  EXPECT_DOUBLE_EQ(rc["chosen_ms"].get<double>(), 5.0);
  EXPECT_DOUBLE_EQ(rc["csr_ms"].get<double>(), 2.0);
}

TEST_F(PlanTest, RecheckKeepsASplitThatIsStillFaster) {
  const Csr a = cliques(960);
  const Ordering o = compute_ordering(a, ReorderMethod::kNone, 48, 0);
  SelectorOptions opt{.use_cache = false, .recheck_after = 2};
  opt.timer = [](const Candidate& c, const std::function<void()>& run) {
    run();
    return c.whole_csr() ? 2.0 : 1.0;
  };
  AdaptiveAggregator agg(a, o.block_starts, opt, 2);
  const auto x = rnd(960u * 8);
  std::vector<float> y(960u * 8);
  for (int call = 0; call < 4; ++call) agg.run(x.data(), 8, y.data());
  EXPECT_FALSE(agg.plan_for(8).candidate().whole_csr());
  EXPECT_FALSE(agg.explain()["8"]["recheck"]["switched_to_csr"].get<bool>());
}

TEST(SelectorRule, PairedComparisonCallsTiesForCsr) {
  // Round i of each vector was measured back to back. A split 1.5% faster at the median with
  // rounds on both sides is a tie: not a win (CSR is kept).
  const std::vector<double> csr{10, 10, 10, 10, 10, 10, 10};
  EXPECT_FALSE(compare_paired({9.9, 9.8, 10.2, 9.85, 10.1, 9.9, 9.7}, csr, 0.95).wins);
  // 20% faster in every round: a win, ratios as computed by hand.
  const PairedComparison clear = compare_paired({8, 8, 8, 8, 8, 8, 8}, csr, 0.95);
  EXPECT_TRUE(clear.wins);
  EXPECT_DOUBLE_EQ(clear.median_ratio, 0.8);
  // One slow round out of seven (interference) does not flip a clear win...
  EXPECT_TRUE(compare_paired({8, 8, 30, 8, 8, 8, 8}, csr, 0.95).wins);
  // ... but losing in 3 of 7 rounds does: the upper quartile is above 1.
  EXPECT_FALSE(compare_paired({8, 12, 8, 12, 8, 12, 8}, csr, 0.95).wins);
  // A machine that slowed down in the middle hits both in the same round: still a clear win.
  EXPECT_TRUE(compare_paired({8, 8, 24, 24, 8, 8, 8}, {10, 10, 30, 30, 10, 10, 10}, 0.95).wins);
}

// Ownership: a plan shares ownership of the matrix it was built for and owns its split
// subgraphs and kernels, so a plan built from a temporary graph keeps computing A X after
// every handle the caller had is gone (under the asan preset a reference into the freed
// matrix would fail here as a heap-use-after-free).
TEST_F(PlanTest, PlansBuiltFromATemporaryGraphStayValid) {
  const int f = 16;
  const Csr want_a = cliques(500);
  const auto x = rnd(500u * f);
  std::vector<float> want(500u * f), got(500u * f);
  spmm_reference(want_a, x.data(), f, want.data(), false);
  gearbox::MachineProfile m;
  m.mem_bw_gbs = 10;
  m.fp32_gflops = 100;
  std::vector<std::unique_ptr<ExecPlan>> plans;
  std::vector<index_t> starts;
  for (index_t s = 0; s <= 500; s += 50) starts.push_back(s);
  if (starts.back() != 500) starts.push_back(500);
  {
    auto a = std::make_shared<const Csr>(cliques(500));
    const auto blocks = diagonal_blocks(*a, starts);
    for (const Candidate& c : propose_candidates(*a, blocks, f, m))
      plans.push_back(std::make_unique<ExecPlan>(a, blocks, c));
  }  // the graph, its blocks and the candidates are gone: only the plans hold the matrix
  ASSERT_GE(plans.size(), 3u);
  for (const auto& p : plans) {
    std::fill(got.begin(), got.end(), 7.f);
    p->run(x.data(), f, got.data());
    for (std::size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], want[i], 1e-4f) << p->candidate().label;
  }
  // The adaptive plan, built straight from a temporary (the selection runs later, on first use).
  AdaptiveAggregator agg(cliques(500), starts, {.use_cache = false}, 2);
  std::fill(got.begin(), got.end(), 7.f);
  agg.run(x.data(), f, got.data());
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-4f);
  EXPECT_EQ(agg.matrix().nnz(), want_a.nnz());
}

// One registry keyed by device: the CPU kernels are found on the CPU only, and a device that
// was never registered is refused by name rather than planned on.
TEST(DeviceRegistry, KernelsAreKeyedByDeviceAndAnUnregisteredDeviceIsRefused) {
  EXPECT_EQ(find_kernel("csr", Device::kCpu).device, Device::kCpu);
  for (const KernelSpec* k : kernels_for(DensityClass::kSparse, Device::kCpu))
    EXPECT_EQ(k->device, Device::kCpu);
  if (device_registered(Device::kCuda)) GTEST_SKIP() << "CUDA registered in this binary";
  EXPECT_THROW(find_kernel("csr", Device::kCuda), gearbox::Error);
  SelectorOptions so;
  so.device = Device::kCuda;
  try {
    AdaptiveAggregator agg(cliques(100), {0, 50, 100}, so, 1);
    FAIL() << "planned on an unregistered device";
  } catch (const gearbox::Error& e) {
    EXPECT_NE(std::string(e.what()).find("cuda"), std::string::npos) << e.what();
  }
}

// The shared timing: median_ms on the CPU runs the warm-up and then exactly the asked runs.
TEST(DeviceRegistry, MedianMsRunsWarmupThenTheAskedRepetitions) {
  int calls = 0;
  const double ms = median_ms(
      Device::kCpu, [&] { ++calls; }, 5, 2);
  EXPECT_EQ(calls, 7);
  EXPECT_GE(ms, 0.0);
}
