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

// A job asking for 1e12 iterations (the CSV parser's maximum: 2e11 after the artifact's // 5)
// ran for centuries of simulated time, one throughput sample per 300 s round, until memory ran
// out. It is refused before simulating, naming the field; the simulation does not start.
TEST(Simulator, AJobLongerThanTheHorizonIsRefused) {
  const auto cat = test::tiny_catalog();
  const Trace t = parse_trace_csv(
      "job_id,submission_time,num_iteration,model_name,deadline,batch_size,num_gpu,gpu_type\n"
      "short,1000,3000,bert__760M,0,128,1,a100\n"
      "huge,1000,1000000000000,bert__760M,0,128,1,a100\n",
      "t.csv", cat);
  Cluster c;
  c.add_pool("a100", 1, 4);
  // 0.5 s per iteration on 4 GPUs (its fastest placement), 1 s on 1.
  test::FakeEstimator est([](const JobShape&, const std::string&, int n) { return 2.0 / n; });
  for (const auto& name : {"fcfs", "crius"}) {
    auto p = make_policy(name);
    try {
      simulate(t, c, est, *p);
      ADD_FAILURE() << name << " simulated a 2e11-iteration job";
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), 2);
      EXPECT_EQ(e.field_name(), "num_iteration");
      EXPECT_NE(std::string(e.what()).find("job huge"), std::string::npos) << e.what();
    }
  }
  // The bound is the job alone on its fastest placement: 3000 // 5 = 600 iterations x 0.5 s
  // = 300 s fits a one-round horizon exactly, 1 s per iteration would not.
  Trace one;
  one.jobs.push_back(t.jobs[0]);
  assign_rounds(one);
  SimOptions tight;
  tight.horizon_rounds = 1;
  auto fcfs = make_policy("fcfs");
  test::FakeEstimator slow([](const JobShape&, const std::string&, int) { return 1.0; });
  EXPECT_THROW(simulate(one, c, slow, *fcfs, tight), Error);
  // Passes the per-job check (300 s alone on 4 GPUs), but FCFS runs it on the one GPU it asked
  // for: 150 s restart + 600 x 2 s = 1350 s, done in the fifth round. A four-round horizon is
  // refused when reached, with the round record never longer than the horizon; five suffice.
  tight.horizon_rounds = 4;
  try {
    simulate(one, c, est, *fcfs, tight);
    ADD_FAILURE() << "finished past the horizon";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("0 of 1 jobs finished"), std::string::npos) << e.what();
  }
  tight.horizon_rounds = 5;
  const SimResult r = simulate(one, c, est, *fcfs, tight);
  EXPECT_EQ(r.finished, 1);
  EXPECT_DOUBLE_EQ(r.jcts[0], 150 + 600 * 2.0);
  EXPECT_EQ(r.round_throughput.size(), 5u);
  // --max-rounds beyond the horizon is refused (it sized the per-round record).
  SimOptions over;
  over.max_rounds = kMaxSimRounds + 1;
  EXPECT_THROW(simulate(one, c, est, *fcfs, over), Error);
}

// Two jobs that both ask for the one V100 of a cluster that also has one idle A100 (1 s per
// iteration on the A100, 3 s on the V100, 300 iterations each, both submitted at t = 1000).
// FCFS gives each job what it asked for: the first runs on the V100 (150 s restart + 900 s),
// the second waits for it and runs there after (another 150 + 900 s); the A100 stays idle.
// Crius places by throughput: the first job on the A100 (10 s + 300 s, done at 1310), the
// second on the V100 (10 s restart, 300 s at 3 s per iteration = 100 iterations by 1310); at
// the departure it moves to the faster A100 (gain 128 - 42.7 - 4.3 samples/s), pays another
// 10 s and runs its 200 remaining iterations there: done at 1310 + 10 + 200 = 1520.
TEST(Simulator, HeterogeneityAwarePolicyBeatsFcfsByTheHandComputedMargin) {
  const auto cat = test::tiny_catalog();
  Trace t;
  for (const char* id : {"first", "second"}) {
    Job j = one_a100_job(cat, id, 300);
    j.req_type = "v100";
    t.jobs.push_back(j);
  }
  assign_rounds(t);
  Cluster c;
  c.add_pool("a100", 1, 1);
  c.add_pool("v100", 1, 1);
  test::FakeEstimator est(
      [](const JobShape&, const std::string& type, int) { return type == "a100" ? 1.0 : 3.0; });
  auto fcfs = make_policy("fcfs");
  const SimResult f = simulate(t, c, est, *fcfs);
  ASSERT_EQ(f.finished, 2);
  EXPECT_DOUBLE_EQ(f.jcts[0], 150 + 300 * 3);              // 1050
  EXPECT_DOUBLE_EQ(f.jcts[1], 150 + 900 + 150 + 300 * 3);  // 2100
  EXPECT_DOUBLE_EQ(f.avg_jct_s, (1050 + 2100) / 2.0);
  EXPECT_DOUBLE_EQ(f.avg_queue_s, 1050 / 2.0);  // the second waited 1050 s
  auto crius = make_policy("crius");
  const SimResult r = simulate(t, c, est, *crius);
  ASSERT_EQ(r.finished, 2);
  EXPECT_DOUBLE_EQ(r.jcts[0], 10 + 300 * 1.0);              // first, on the A100
  EXPECT_NEAR(r.jcts[1], 10 + 300 + 10 + 200 * 1.0, 1e-9);  // second, moved at 1310
  EXPECT_EQ(r.reschedules, 1);                              // the move
  EXPECT_DOUBLE_EQ(r.avg_queue_s, 0);
  EXPECT_LT(r.avg_jct_s, f.avg_jct_s);
  EXPECT_NEAR(r.avg_jct_s, (310 + 520) / 2.0, 1e-9);
  // GPU time: FCFS keeps one of the two GPUs busy for 2100 s of its 7 rounds (done at 3100);
  // Crius both for 310 s, then one until 1520 (210 s), over 2 rounds (done at 1520).
  EXPECT_EQ(f.rounds, 7);
  EXPECT_DOUBLE_EQ(f.gpu_util, 2100.0 / (2 * 7 * 300));
  EXPECT_EQ(r.rounds, 2);
  EXPECT_NEAR(r.gpu_util, (2 * 310 + 210) / (2 * 2 * 300.0), 1e-12);
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
