// MatrixPlan: Y = A X and A^T X in the caller's node order for any square matrix (reordered,
// split and selected inside), against the plain reference on awkward matrices; and plans
// own their matrix (no reference to a caller's temporary survives construction).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <random>
#include <set>

#include "gearbox/core/error.hpp"
#include "gearbox/gnn/generators.hpp"
#include "gearbox/gnn/kernels.hpp"
#include "gearbox/gnn/matrix_plan.hpp"
#include "gearbox/gnn/plan.hpp"
#include "gearbox/testing/temp_dir.hpp"

using namespace gearbox::gnn;

namespace {

std::vector<float> rnd(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// A directed matrix on n nodes: community blocks of 40 (dense-ish), random extra entries,
// the last `empty` rows without entries, weights in [0.5, 1.5).
Csr directed(index_t n, index_t empty, unsigned seed) {
  std::mt19937 rng(seed);
  Coo coo;
  coo.rows = coo.cols = n;
  for (index_t i = 0; i + empty < n; ++i) {
    const index_t b = i / 40 * 40;
    for (int k = 0; k < 12; ++k) {
      coo.row.push_back(i);
      coo.col.push_back(std::min<index_t>(n - 1, b + static_cast<index_t>(rng() % 40)));
      coo.val.push_back(0.5f + static_cast<float>(rng() % 1000) / 1000.f);
    }
    coo.row.push_back(i);
    coo.col.push_back(static_cast<index_t>(rng() % n));
    coo.val.push_back(1.f);
  }
  return coo_to_csr(coo, Duplicates::kSum);
}

// Shuffles node ids so the communities are scattered (the reordering must find them).
Csr shuffled(const Csr& a, unsigned seed) {
  std::vector<index_t> p(static_cast<std::size_t>(a.rows));
  for (index_t i = 0; i < a.rows; ++i) p[i] = i;
  std::shuffle(p.begin(), p.end(), std::mt19937(seed));
  return permute_symmetric(a, p);
}

class MatrixPlanTest : public ::testing::Test {
 protected:
  void SetUp() override { setenv("GEARBOX_CACHE", dir_.path().c_str(), 1); }
  // The order-choice tests' plan: label propagation in blocks of 16, 2 threads, no cache.
  static MatrixPlanOptions order_choice_options() {
    MatrixPlanOptions o;
    o.reorder = ReorderMethod::kLabelProp;
    o.max_block = 16;
    o.threads = 2;
    o.selector.use_cache = false;
    return o;
  }
  gearbox::testing::TempDir dir_;
};

}  // namespace

TEST_F(MatrixPlanTest, ForwardAndTransposeEqualReferenceInCallersOrder) {
  for (const index_t n : {1, 7, 333}) {
    for (const ReorderMethod m : {ReorderMethod::kNone, ReorderMethod::kLabelProp}) {
      const Csr a = shuffled(directed(n, n / 5, 3), 9);
      const Csr at = transpose(a);
      MatrixPlanOptions o;
      o.reorder = m;
      o.max_block = 16;
      o.threads = 2;
      o.selector.use_cache = false;
      MatrixPlan plan(a, 8, o);
      EXPECT_FALSE(n > 1 && plan.symmetric());
      for (const int f : {8, 3}) {
        const auto x = rnd(static_cast<std::size_t>(n) * f, 4);
        std::vector<float> want(x.size()), got(x.size(), 7.f);
        spmm_reference(a, x.data(), f, want.data(), false);
        plan.run(x.data(), f, got.data(), false);
        for (std::size_t i = 0; i < got.size(); ++i)
          ASSERT_NEAR(got[i], want[i], 1e-4f) << "n=" << n << " f=" << f << " i=" << i;
        spmm_reference(at, x.data(), f, want.data(), false);
        plan.run(x.data(), f, got.data(), true);
        for (std::size_t i = 0; i < got.size(); ++i)
          ASSERT_NEAR(got[i], want[i], 1e-4f) << "transpose n=" << n << " f=" << f;
      }
    }
  }
}

TEST_F(MatrixPlanTest, ReorderedPlanRunsItsKernelsInTheCallersOrder) {
  // A shuffled community graph: label propagation reorders it, and with plain CSR forced the
  // kernel reads X and writes Y through the permutation (no copies): "fused" in the document.
  const index_t n = 600;
  const Csr a = shuffled(directed(n, 7, 2), 5);
  MatrixPlanOptions o;
  o.reorder = ReorderMethod::kLabelProp;
  o.threads = 2;
  o.selector.use_cache = false;
  o.selector.force_csr = true;
  MatrixPlan plan(a, 16, o);
  const auto doc = plan.document();
  ASSERT_TRUE(doc.contains("caller_order")) << "the ordering moved nodes: " << doc.dump();
  EXPECT_EQ(doc["caller_order"], "fused");
  const auto x = rnd(static_cast<std::size_t>(n) * 16, 8);
  std::vector<float> want(x.size()), got(x.size(), 3.f);
  spmm_reference(a, x.data(), 16, want.data(), false);
  plan.run(x.data(), 16, got.data(), false);
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-4f) << i;
}

TEST_F(MatrixPlanTest, SymmetricMatrixReusesItsPlanAndExplainsLikeTheCli) {
  const Csr a = gcn_normalize(generate_sbm({.n = 600, .block = 60, .din = 12, .dout = 1}));
  MatrixPlanOptions o;
  o.name = "sbm";
  MatrixPlan plan(a, 16, o);
  EXPECT_TRUE(plan.symmetric());
  const auto doc = plan.document();
  EXPECT_EQ(doc["graph"], "sbm");
  EXPECT_EQ(doc["nodes"], 600);
  EXPECT_EQ(doc["nnz"], a.nnz());
  EXPECT_EQ(doc["dim"], 16);
  const std::string text = plan.text();
  EXPECT_EQ(text.rfind("graph sbm: 600 nodes, " + std::to_string(a.nnz()) + " nnz", 0), 0u);
  EXPECT_NE(text.find("\nchoice: " + doc["choice"]["label"].get<std::string>() + " -- "),
            std::string::npos);
}

TEST_F(MatrixPlanTest, CallersOrderKeepsTheReorderedPlanOnlyWhenClearlyFaster) {
  // The reordered plan against plain CSR on the matrix as given, per width and direction,
  // by paired rounds (timed here by a fake timer that still runs each candidate): clearly
  // faster keeps it ("fused"), a tie or slower gives "given"; either way the products equal
  // the reference, forward and transposed (a directed matrix: the transpose has its own plan).
  const index_t n = 333;
  const Csr a = shuffled(directed(n, 9, 3), 7);
  const Csr at = transpose(a);
  for (const double given_ms : {2.0, 1.0, 0.5}) {
    MatrixPlanOptions o = order_choice_options();
    int given_runs = 0;
    o.selector.timer = [&](const Candidate& c, const std::function<void()>& run) {
      run();
      if (c.label != "csr-given") return 1.0;
      ++given_runs;
      return given_ms;
    };
    MatrixPlan plan(a, 16, o);
    // Reordered 1 ms against 2 ms as given: ratio 0.5 < 0.95 wins; 1.0 ties; 2.0 loses.
    const bool want_given = given_ms <= 1.0;
    const auto doc = plan.document();
    ASSERT_TRUE(doc.contains("caller_order_measured")) << doc.dump();
    EXPECT_EQ(doc["caller_order_measured"]["choice"], want_given ? "given" : "reordered");
    EXPECT_NEAR(doc["caller_order_measured"]["paired_ratio"].get<double>(), 1.0 / given_ms, 1e-9);
    EXPECT_EQ(doc["caller_order"], want_given ? "given" : "fused");
    EXPECT_NE(plan.text().find(want_given ? "caller's order: plain CSR on the matrix as given"
                                          : "caller's order: the reordered plan"),
              std::string::npos);
    EXPECT_EQ(given_runs, o.selector.reps) << "one timed run as given per round";
    for (const int f : {16, 3}) {
      const auto x = rnd(static_cast<std::size_t>(n) * f, 5);
      std::vector<float> want(x.size()), got(x.size(), 7.f);
      spmm_reference(a, x.data(), f, want.data(), false);
      plan.run(x.data(), f, got.data(), false);
      for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-4f) << i;
      spmm_reference(at, x.data(), f, want.data(), false);
      plan.run(x.data(), f, got.data(), true);
      for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-4f) << i;
    }
    // Each (direction, width) measured once: forward and transposed at 16 and 3.
    EXPECT_EQ(given_runs, 4 * o.selector.reps);
    const auto k = plan.kernels();
    for (const char* dir : {"forward", "transpose"})
      for (const char* f : {"16", "3"}) EXPECT_EQ(k[dir][f] == "csr-given", want_given) << k.dump();
  }
}

TEST_F(MatrixPlanTest, CallersOrderMeasuresCsrAsGivenWithoutPrefetchWhereCsrPrefetches) {
  // At a width where plain CSR prefetches, CSR as given is timed with and without software
  // prefetch too: without is kept only when clearly faster, then weighed against the
  // reordered plan. Products stay equal to the reference.
  const index_t n = 333;
  const Csr a = shuffled(directed(n, 9, 3), 7);
  const int f = kCsrNoPrefetchMaxWidth + 16;
  for (const double nopf_ms : {1.0, 1.45}) {
    MatrixPlanOptions o = order_choice_options();
    int nopf_runs = 0;
    std::vector<std::string> seq;  // the order choice's timed runs (after the selection's)
    o.selector.timer = [&](const Candidate& c, const std::function<void()>& run) {
      run();
      if (c.label == "csr-given" || !seq.empty()) seq.push_back(c.label);
      if (c.label == "csr-given") return 1.5;
      if (c.label != "csr-nopf-given") return 2.0;  // the reordered plan's candidates
      ++nopf_runs;
      return nopf_ms;
    };
    MatrixPlan plan(a, f, o);
    const bool nopf = nopf_ms < 1.5 * kSelectMargin;  // 1.45 / 1.5 = 0.967: a tie
    const auto why = plan.document()["caller_order_measured"];
    EXPECT_EQ(why["choice"], "given") << why.dump();
    EXPECT_EQ(why["given_kernel"], nopf ? "csr-nopf" : "csr");
    EXPECT_NEAR(why["given_nopf_over_csr_paired"].get<double>(), nopf_ms / 1.5, 1e-9);
    EXPECT_NEAR(why["given_csr_ms"].get<double>(), nopf ? nopf_ms : 1.5, 1e-9);
    EXPECT_EQ(nopf_runs, o.selector.reps) << "one timed run per round";
    // Each round times the three once, in a new order each round. seq starts at the first
    // "csr-given", so the first round may be cut: whole rounds are those from seq.size() % 3.
    ASSERT_GT(seq.size(), 3u * (o.selector.reps - 1));
    ASSERT_LE(seq.size(), 3u * o.selector.reps);
    const std::size_t cut = seq.size() % 3;
    std::set<std::vector<std::string>> orders;
    for (std::size_t i = cut; i < seq.size(); i += 3) {
      std::vector<std::string> round(seq.begin() + i, seq.begin() + i + 3);
      orders.insert(round);
      std::sort(round.begin(), round.end());
      EXPECT_EQ(std::adjacent_find(round.begin(), round.end()), round.end()) << "each once";
    }
    EXPECT_GT(orders.size(), 1u) << "the rounds do not all run in one order";
    EXPECT_EQ(plan.kernels()[std::to_string(f)], nopf ? "csr-nopf-given" : "csr-given");
    EXPECT_EQ(plan.text().find("without software prefetch") != std::string::npos, nopf);
    const auto x = rnd(static_cast<std::size_t>(n) * f, 5);
    std::vector<float> want(x.size()), got(x.size(), 7.f);
    spmm_reference(a, x.data(), f, want.data(), false);
    plan.run(x.data(), f, got.data(), false);
    for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-4f) << i;
  }
}

TEST_F(MatrixPlanTest, CallersOrderChoiceIsMeasuredAgainAfterWarmUp) {
  // Chosen at planning time (the reordered plan, CSR as given timed 2x slower), measured
  // again on the caller's inputs after recheck_after calls (CSR as given now 2x faster): the
  // plan switches, keeps the first measurement under "first", and stays correct.
  const index_t n = 333;
  const Csr a = shuffled(directed(n, 9, 3), 7);
  double given_ms = 2.0;
  MatrixPlanOptions o = order_choice_options();
  o.selector.recheck_after = 3;
  o.selector.timer = [&](const Candidate& c, const std::function<void()>& run) {
    run();
    return c.label == "csr-given" ? given_ms : 1.0;
  };
  MatrixPlan plan(a, 16, o);
  EXPECT_NE(plan.kernels()["16"], "csr-given");
  given_ms = 0.5;
  const auto x = rnd(static_cast<std::size_t>(n) * 16, 5);
  std::vector<float> want(x.size()), got(x.size());
  spmm_reference(a, x.data(), 16, want.data(), false);
  for (int call = 1; call <= 4; ++call) {
    std::fill(got.begin(), got.end(), 7.f);
    plan.run(x.data(), 16, got.data(), false);
    for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-4f) << i;
    EXPECT_EQ(plan.kernels()["16"] == "csr-given", call >= 3) << "after call " << call;
  }
  const auto why = plan.document()["caller_order_measured"];
  EXPECT_EQ(why["choice"], "given");
  EXPECT_EQ(why["after_calls"], 3);
  EXPECT_EQ(why["first"]["choice"], "reordered");
  EXPECT_EQ(plan.document()["caller_order"], "given");
  EXPECT_NE(plan.text().find("re-checked after 3 calls; first: reordered"), std::string::npos)
      << plan.text();
}

TEST_F(MatrixPlanTest, RefusesNonSquare) {
  Csr a;
  a.rows = 3;
  a.cols = 4;
  a.rowptr.assign(4, 0);
  EXPECT_THROW(MatrixPlan(a, 4, {}), gearbox::Error);
}

TEST_F(MatrixPlanTest, AggregatorOwnsAMatrixGivenAsTemporary) {
  // Before plans owned their matrix, an aggregator built from a temporary kept a dangling
  // reference (caught by the asan preset); now it keeps its own.
  const Csr ref = directed(200, 0, 5);
  AdaptiveAggregator agg(directed(200, 0, 5), {0, 100, 200}, {.use_cache = false}, 2);
  const auto x = rnd(200u * 4, 6);
  std::vector<float> want(x.size()), got(x.size());
  spmm_reference(ref, x.data(), 4, want.data(), false);
  agg.run(x.data(), 4, got.data());
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-4f);
  EXPECT_EQ(agg.matrix().nnz(), ref.nnz());
}
