#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "gearbox/core/error.hpp"
#include "gearbox/sched/simulator.hpp"
#include "test_support.hpp"

namespace gearbox::sched {
namespace {

double speed(const std::string& type) {
  return type == "a100" ? 1.0 : type == "v100" ? 1.5 : type == "a40" ? 1.7 : 2.5;
}

test::FakeEstimator fake() {
  return test::FakeEstimator([](const JobShape& j, const std::string& type, int n) {
    return (1.0 + j.model.size) * speed(type) * 4.0 / std::pow(n, 0.8) / 100.0;
  });
}

namespace {
// A bert-760M job (batch 128) asking for one A100, submitted at t = 1000 s, no
// deadline.
Job one_a100_job(const ModelCatalog& cat, const std::string& id, long iterations) {
  Job j;
  j.id = id;
  j.model = cat.get("bert-760M");
  j.batch = 128;
  j.iterations = iterations;
  j.req_gpus = 1;
  j.req_type = "a100";
  j.submit = 1000;
  j.deadline = 1e9;
  return j;
}
}  // namespace

TEST(Simulator, OneJobFinishesAfterRestartPlusWork) {
  const auto cat = test::tiny_catalog();
  Trace t;
  t.jobs.push_back(one_a100_job(cat, "only", 600));
  assign_rounds(t);
  Cluster c;
  c.add_pool("a100", 1, 4);
  test::FakeEstimator est([](const JobShape&, const std::string&, int) { return 1.0; });
  auto fcfs = make_policy("fcfs");
  const auto r = simulate(t, c, est, *fcfs);
  ASSERT_EQ(r.finished, 1);
  EXPECT_DOUBLE_EQ(r.jcts[0],
                   150 + 600);  // min(150 x 1 GPU, 600) restart, then 600 x 1 s
  EXPECT_EQ(r.rounds, 3);
  auto crius = make_policy("crius");
  const auto rc = simulate(t, c, est, *crius);
  EXPECT_DOUBLE_EQ(rc.jcts[0],
                   10 + 600);  // Crius's pruned restart: min(10 x 1, 40)
  // Rounds: 290 s of work, 300 s, then 10 s (128 x 10/300 samples/s is below
  // the artifact's 100 samples/s floor for the average, so only the first two
  // rounds count).
  EXPECT_NEAR(rc.avg_throughput, (128.0 * 290 / 300 + 128.0) / 2, 1e-9);
  EXPECT_NEAR(rc.round_throughput[2], 128.0 * 10 / 300, 1e-9);
}

TEST(Simulator, DeterministicForASeed) {
  const auto cat = test::tiny_catalog();
  const Trace t = synthetic_trace({250, 200, 11}, cat);
  const Cluster c = Cluster::from_spec("arena:gpus=64");
  const auto est = fake();
  for (const auto& name : policy_names()) {
    auto p1 = make_policy(name);
    auto p2 = make_policy(name);
    const auto a = simulate(t, c, est, *p1);
    const auto b = simulate(t, c, est, *p2);
    EXPECT_EQ(a.jcts, b.jcts) << name;
    EXPECT_EQ(a.reschedules, b.reschedules) << name;
    EXPECT_EQ(a.round_throughput, b.round_throughput) << name;
    EXPECT_GT(a.finished, 0) << name;
    EXPECT_LE(a.gpu_util, 1.0 + 1e-9) << name;
    if (name == "crius" || name == "fcfs") {
      EXPECT_EQ(a.finished, 250) << name;
    }
  }
}

TEST(Simulator, MaxRoundsStopsEarly) {
  const auto cat = test::tiny_catalog();
  const Trace t = synthetic_trace({200, 100, 3}, cat);
  const Cluster c = Cluster::from_spec("arena:gpus=64");
  const auto est = fake();
  auto p = make_policy("crius");
  const auto r = simulate(t, c, est, *p, {10});
  EXPECT_EQ(r.rounds, 10);
  EXPECT_LT(r.arrived, 200);
  EXPECT_EQ(r.round_throughput.size(), 10u);
}

// A departure inside a round frees its GPU and the waiting job starts at that
// second, not at the next 300 s boundary (the artifact's round-only behaviour
// stays available).
TEST(Simulator, DepartureStartsTheWaitingJobAtOnce) {
  const auto cat = test::tiny_catalog();
  Trace t;
  for (const auto& [id, iters] : {std::pair<const char*, long>{"first", 400}, {"second", 100}})
    t.jobs.push_back(one_a100_job(cat, id, iters));
  assign_rounds(t);
  Cluster c;
  c.add_pool("a100", 1, 1);  // one GPU: the second job waits for the first
  test::FakeEstimator est([](const JobShape&, const std::string&, int) { return 1.0; });
  struct Case {
    const char* policy;
    double restart;
  };
  for (const Case& k : {Case{"fcfs", 150}, Case{"crius", 10}}) {
    // The first job ends at 1000 + restart + 400 (inside round 1 for fcfs,
    // round 1 for crius).
    const double first_end = 1000 + k.restart + 400;
    auto p = make_policy(k.policy);
    const auto ev = simulate(t, c, est, *p);
    ASSERT_EQ(ev.finished, 2) << k.policy;
    EXPECT_DOUBLE_EQ(ev.jcts[0], first_end - 1000) << k.policy;
    EXPECT_DOUBLE_EQ(ev.jcts[1], first_end + k.restart + 100 - 1000) << k.policy;
    EXPECT_DOUBLE_EQ(ev.avg_queue_s, (first_end - 1000) / 2) << k.policy;
    SimOptions round_only;
    round_only.round_only = true;
    auto q = make_policy(k.policy);
    const auto rr = simulate(t, c, est, *q, round_only);
    ASSERT_EQ(rr.finished, 2) << k.policy;
    const double boundary = 1000 + 300 * std::ceil((first_end - 1000) / 300);
    EXPECT_DOUBLE_EQ(rr.jcts[1], boundary + k.restart + 100 - 1000) << k.policy;
    EXPECT_LT(ev.jcts[1], rr.jcts[1]) << k.policy;
  }
}

// A policy that places every job on one GPU of pool 0, whether or not it can run there (as a
// baseline deciding with the data-parallel view may).
class PlaceAnywhere : public Policy {
 public:
  std::string name() const override { return "place-anywhere"; }
  void schedule(const RoundInput& in, std::vector<Placement>& target) override {
    for (std::size_t i = 0; i < target.size(); ++i) target[i] = cell_of(*in.cluster, 0, 1);
  }
};

// A placement whose best plan cannot run used to keep the job "running" forever: the
// simulation now ends, reporting the job unfinished and the run stalled.
TEST(Simulator, EndsWhenAPlacementCannotRun) {
  const auto cat = test::tiny_catalog();
  Trace t;
  t.jobs.push_back(one_a100_job(cat, "stuck", 100));
  assign_rounds(t);
  Cluster c;
  c.add_pool("a100", 1, 1);
  test::FakeEstimator est([](const JobShape&, const std::string&, int) { return kInfeasible; });
  PlaceAnywhere p;
  const auto r = simulate(t, c, est, p);
  EXPECT_EQ(r.finished, 0);
  EXPECT_TRUE(r.stalled);
  EXPECT_EQ(r.job_jct, std::vector<double>{-1.0});
  EXPECT_LE(r.rounds, kMaxStalledRounds + 2);
}

// job_jct holds each trace job's JCT at its index; jcts the same values in
// finish order.
TEST(Simulator, PerJobJctMatchesFinishOrder) {
  const auto cat = test::tiny_catalog();
  const Trace t = synthetic_trace({60, 100, 5}, cat);
  const Cluster c = Cluster::from_spec("arena:gpus=64");
  const auto est = fake();
  auto p = make_policy("crius");
  const auto r = simulate(t, c, est, *p);
  ASSERT_EQ(r.job_jct.size(), 60u);
  std::vector<double> a, b = r.jcts;
  for (double j : r.job_jct)
    if (j >= 0) a.push_back(j);
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, b);
  EXPECT_EQ(static_cast<int>(a.size()), r.finished);
}

TEST(CrossPolicyJct, CommonAndPaddedAverages) {
  SimResult x, y;
  x.job_jct = {10, 20, -1, 40};  // finished jobs 0, 1, 3
  y.job_jct = {30, -1, -1, 50};  // finished jobs 0, 3
  const auto c = cross_policy_jct({x, y});
  EXPECT_EQ(c.common_jobs, 2);  // jobs 0 and 3
  EXPECT_DOUBLE_EQ(c.avg_jct_common_s[0], (10 + 40) / 2.0);
  EXPECT_DOUBLE_EQ(c.avg_jct_common_s[1], (30 + 50) / 2.0);
  // Padded to 3 jobs (x's count) with the largest JCT of any policy (50).
  EXPECT_DOUBLE_EQ(c.avg_jct_padded_s[0], (10 + 20 + 40) / 3.0);
  EXPECT_DOUBLE_EQ(c.avg_jct_padded_s[1], (30 + 50 + 50) / 3.0);
}

TEST(CrossPolicyJct, RefusesResultsOfDifferentTraces) {
  SimResult x, y;
  x.job_jct = {1, 2};
  y.job_jct = {1};
  EXPECT_THROW(cross_policy_jct({x, y}), Error);
}

}  // namespace
}  // namespace gearbox::sched
