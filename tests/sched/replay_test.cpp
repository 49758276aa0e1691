// The replay's parts that need no daemon: the job subset, the simulator's round length and start
// latency, measured metrics from daemon job records (hand-computed), the side-by-side document,
// and the cluster read from a daemon's /v1/cluster.
#include <gtest/gtest.h>

#include "gearbox/core/error.hpp"
#include "gearbox/sched/replay.hpp"
#include "test_support.hpp"

namespace gearbox::sched {
namespace {

// A bert-760M job (batch 128) asking for one A100, submitted at `submit`.
Job a100_job(const ModelCatalog& cat, double submit, long iterations) {
  Job j;
  j.id = "j" + std::to_string(static_cast<int>(submit));
  j.model = cat.get("bert-760M");
  j.batch = 128;
  j.iterations = iterations;
  j.req_gpus = 1;
  j.req_type = "a100";
  j.submit = submit;
  j.deadline = 1e9;
  return j;
}

TEST(Replay, FirstJobsKeepsTheTraceClock) {
  const auto cat = test::tiny_catalog();
  Trace t;
  for (double s : {1000.0, 1400.0, 2000.0}) t.jobs.push_back(a100_job(cat, s, 60));
  assign_rounds(t);
  const Trace two = first_jobs(t, 2);
  ASSERT_EQ(two.jobs.size(), 2u);
  EXPECT_EQ(two.jobs[1].id, "j1400");
  EXPECT_DOUBLE_EQ(two.t0, 1000);
  EXPECT_EQ(first_jobs(t, 0).jobs.size(), 3u);
  EXPECT_EQ(first_jobs(t, 10).jobs.size(), 3u);
}

// A start latency is paid on every start, like the restart overhead; the default round (300 s)
// and an explicit 300 s give the same run.
TEST(Replay, SimulatorChargesStartLatencyAndTakesTheRoundLength) {
  const auto cat = test::tiny_catalog();
  Trace t;
  t.jobs.push_back(a100_job(cat, 1000, 600));
  assign_rounds(t);
  Cluster c;
  c.add_pool("a100", 1, 4);
  test::FakeEstimator est([](const JobShape&, const std::string&, int) { return 1.0; });
  auto fcfs = make_policy("fcfs");
  SimOptions opt;
  opt.start_latency_s = 25;
  const SimResult r = simulate(t, c, est, *fcfs, opt);
  ASSERT_EQ(r.finished, 1);
  EXPECT_DOUBLE_EQ(r.jcts[0], 150 + 25 + 600);  // restart 150 s, latency 25 s, 600 x 1 s
  // A 1000 s round: the job still starts at its submission, and the run spans one round.
  opt.round_s = 1000;
  const SimResult longer = simulate(t, c, est, *fcfs, opt);
  EXPECT_DOUBLE_EQ(longer.jcts[0], 775);
  EXPECT_EQ(longer.rounds, 1);
  SimOptions plain, explicit_300;
  explicit_300.round_s = 300;
  EXPECT_EQ(simulate(t, c, est, *fcfs, plain).jcts, simulate(t, c, est, *fcfs, explicit_300).jcts);
  opt.round_s = 0;
  EXPECT_THROW(simulate(t, c, est, *fcfs, opt), Error);
}

Json record(double submitted, const std::string& state, double finished, const Json& attempts) {
  Json r = {{"id", 1}, {"state", state}, {"submitted", submitted}, {"attempts", attempts}};
  if (finished >= 0) r["finished"] = finished;
  return r;
}

Json attempt(const std::string& state, double started, double ended, int hosts, int per_host) {
  return {{"state", state},
          {"started", started},
          {"ended", ended},
          {"hosts", hosts},
          {"gpus_per_node", per_host}};
}

// Two jobs at time scale 10 on 8 GPUs: A submitted at 100 (wall), one attempt 101-105 on 2x4,
// finished 105; B submitted at 102, preempted attempt 103-104 on 1x2, then 106-110 on 1x4,
// finished 110.
TEST(Replay, MeasuredMetricsFromDaemonRecords) {
  std::vector<MeasuredJob> jobs;
  jobs.push_back(measured_job(
      record(100, "finished", 105, Json::array({attempt("finished", 101, 105, 2, 4)})), 200));
  jobs.push_back(measured_job(record(102, "finished", 110,
                                     Json::array({attempt("preempted", 103, 104, 1, 2),
                                                  attempt("finished", 106, 0, 1, 4)})),
                              200));
  EXPECT_DOUBLE_EQ(jobs[1].run_s, 1 + 4);  // the open attempt ends at the job's finish
  EXPECT_DOUBLE_EQ(jobs[1].busy_gpu_s, 1 * 2 + 4 * 4);
  EXPECT_EQ(jobs[1].preemptions, 1);
  const SimResult r = measured_result(jobs, "crius", 10, 8, 5);
  ASSERT_EQ(r.finished, 2);
  // JCTs (x10): A 50, B 80; queue: A 10, B (8 - 5) x 10 = 30.
  EXPECT_DOUBLE_EQ(r.job_jct[0], 50);
  EXPECT_DOUBLE_EQ(r.job_jct[1], 80);
  EXPECT_DOUBLE_EQ(r.avg_jct_s, 65);
  EXPECT_DOUBLE_EQ(r.avg_queue_s, 20);
  EXPECT_DOUBLE_EQ(r.makespan_s, 100);  // 100 -> 110 wall
  EXPECT_EQ(r.reschedules, 1);
  // GPU-seconds (x10): 4 x 8 + 2 + 16 = 50 -> 500 over 8 GPUs x 100 s.
  EXPECT_DOUBLE_EQ(r.gpu_util, 500.0 / 800.0);
  EXPECT_DOUBLE_EQ(r.deadline_met, 1.0);  // no deadlines given

  // A job still pending when the replay ended does not count as finished.
  jobs.push_back(measured_job(record(103, "cancelled", -1, Json::array()), 200));
  const SimResult partial = measured_result(jobs, "fcfs", 10, 8, 5);
  EXPECT_EQ(partial.finished, 2);
  EXPECT_EQ(partial.arrived, 3);
  EXPECT_DOUBLE_EQ(partial.job_jct[2], -1);
  // It waited from 103 to the replay's end (200): 970 s, beside A's 10 and B's 30.
  EXPECT_DOUBLE_EQ(partial.avg_queue_s, (10 + 30 + 970) / 3.0);
  EXPECT_THROW(measured_job(record(100, "finished", -1, Json::array()), 200), Error);
  EXPECT_THROW(measured_job(Json{{"state", "running"}}, 200), Error);
}

TEST(Replay, CompareRunsPutsEachFigureBesideItsPrediction) {
  SimResult m, s;
  m.avg_jct_s = 110;
  s.avg_jct_s = 100;
  m.finished = s.finished = 3;
  m.avg_queue_s = 5;  // s.avg_queue_s = 0: no ratio
  const Json c = compare_runs(m, s);
  EXPECT_DOUBLE_EQ(c["avg_jct_s"]["measured"].get<double>(), 110);
  EXPECT_DOUBLE_EQ(c["avg_jct_s"]["simulated"].get<double>(), 100);
  EXPECT_DOUBLE_EQ(c["avg_jct_s"]["ratio"].get<double>(), 1.1);
  EXPECT_DOUBLE_EQ(c["finished"]["ratio"].get<double>(), 1.0);
  EXPECT_TRUE(c["avg_queue_s"]["ratio"].is_null());
  EXPECT_FALSE(c.contains("avg_throughput"));  // not measured on a real cluster
  // The figures are those `sched simulate --json` prints.
  const Json all = run_metrics_json(s);
  for (const auto& [key, row] : c.items()) EXPECT_TRUE(all.contains(key)) << key;
}

TEST(Replay, ClusterFromTheDaemonsPools) {
  const Cluster c = cluster_from_json(Json::parse(
      R"({"name": "slurm", "pools": [{"gpu": "a100", "nodes": 2, "gpus_per_node": 4},
                                     {"gpu": "v100", "nodes": 3, "gpus_per_node": 8}]})"));
  ASSERT_EQ(c.num_pools(), 2);
  EXPECT_EQ(c.total_gpus(), 2 * 4 + 3 * 8);
  EXPECT_EQ(c.find_pool("v100"), 1);
  try {
    cluster_from_json(Json::parse(R"({"pools": [{"gpu": "a100", "nodes": "2"}]})"));
    ADD_FAILURE() << "a pool without gpus_per_node was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.field_name(), "gpus_per_node");
  }
  EXPECT_THROW(cluster_from_json(Json::parse(R"({"pools": []})")), Error);
  EXPECT_THROW(cluster_from_json(Json::parse(
                   R"({"pools": [{"gpu": "zz9000", "nodes": 1, "gpus_per_node": 4}]})")),
               Error);
}

}  // namespace
}  // namespace gearbox::sched
