// Faults on a real Slurm, each test on a cluster of its own (scripts/slurm-local.sh in its
// temporary directory, stopped by pid when the test ends, also when it fails) so stopping
// slurmctld or killing a node never disturbs the tests sharing the fixture's cluster:
// slurmctld stopped and restarted mid-run; a node's slurmd and job processes killed (the node
// goes down, its job resumes elsewhere from its checkpoint, the node serves again after its
// slurmd restarts); a node drained (left out of placement, its job moved) and resumed. Each
// ends with every job finished, no two attempts of a job overlapping, and Slurm running each
// attempt once.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "daemon_rig.hpp"
#include "gearbox/core/paths.hpp"
#include "gearbox/sched/emulated_worker.hpp"
#include "gearbox/testing/data.hpp"
#include "gearbox/testing/temp_dir.hpp"

namespace gearbox::sched {
namespace {

// FCFS places each job on exactly the GPUs it asks for, so a job of 4 GPUs holds one node of
// the two-node cluster; the time scale makes a 300-iteration job run for tens of seconds.
class FaultE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto data = data_dir();
    GEARBOX_REQUIRE_FILE(data ? std::optional(*data / "crius" / "prof_database_optimal.json")
                              : std::nullopt);
    // munged wants every directory above its socket searchable.
    ::chmod(dir_.path().c_str(), 0755);
    cluster_ = std::make_unique<test::LocalCluster>(dir_.path() / "cluster", "a100:2x4", 3);
    ASSERT_TRUE(cluster_->up()) << cluster_->error();
  }
  void TearDown() override {
    daemon_.reset();
    cluster_.reset();
  }
  void start_daemon() { daemon_ = rig_.start(); }
  // Waits until job `id` has a running attempt number `n` whose progress passed `min_iters`
  // (and, for the emulated worker, a checkpoint); returns the job record.
  Json wait_running(long long id, std::size_t n, long long min_iters, double limit_s) {
    Json job;
    test::wait_until(
        [&] {
          job = rig_.job(id);
          return job.contains("attempts") && job["attempts"].size() == n &&
                 job["attempts"].back()["state"] == "running" &&
                 job["progress"].get<long long>() >= min_iters;
        },
        limit_s);
    return job;
  }
  // Waits (up to 120 s) until every job has ended and checks each finished, run once by Slurm,
  // attempts never overlapping; returns the job list (expected to hold `n` jobs).
  Json finished_once(std::size_t n) {
    const Json list = rig_.wait_all_done(120);
    EXPECT_EQ(list.size(), n);
    ProcessRunner runner;
    SlurmCli cli(runner);
    test::expect_all_finished_once(list, cli);
    return list;
  }
  std::filesystem::path attempt_log(const Json& attempt) const {
    return rig_.work_dir() / (attempt["name"].get<std::string>() + ".out");
  }
  long long checkpoint_of(long long id) const {
    return read_iterations_file(rig_.work_dir() / ("job-" + std::to_string(id) + ".ckpt"));
  }

  testing::TempDir dir_;
  std::unique_ptr<test::LocalCluster> cluster_;
  test::DaemonRig rig_{dir_.path(), {"--policy", "fcfs", "--time-scale", "60"}};
  std::unique_ptr<test::ChildProcess> daemon_;
};

TEST_F(FaultE2E, ControllerRestartKeepsRunningJobs) {
  start_daemon();
  const long long a = rig_.submit("bert-760M", 128, 300, 4);
  const long long b = rig_.submit("bert-760M", 128, 300, 4);
  ASSERT_FALSE(wait_running(a, 1, 10, 60).empty());
  ASSERT_FALSE(wait_running(b, 1, 10, 60).empty());
  const double retries = rig_.metric("gearbox_sched_slurm_retries_total");
  ASSERT_GE(retries, 0);
  ASSERT_TRUE(cluster_->stop_controller());
  // The daemon's rounds fail while Slurm is away; its API still takes jobs.
  const long long c = rig_.submit("bert-760M", 128, 50, 4);
  // The daemon saw the outage: a Slurm call failed and is being retried (each squeue try waits
  // about 9 s for slurmctld).
  ASSERT_TRUE(test::wait_until(
      [&] { return rig_.metric("gearbox_sched_slurm_retries_total") > retries; }, 60));
  ASSERT_TRUE(cluster_->start_controller());
  const Json list = finished_once(3);
  ASSERT_EQ(list.size(), 3u);
  // The jobs running across the outage were neither lost nor submitted again.
  for (const auto& j : list) {
    if (j["id"] == a || j["id"] == b) {
      EXPECT_EQ(j["attempts"].size(), 1u) << j.dump();
    }
    if (j["id"] == c) {
      EXPECT_GE(j["attempts"].size(), 1u) << j.dump();
    }
  }
}

TEST_F(FaultE2E, DeadNodeJobResumesElsewhereAndTheNodeServesAgain) {
  start_daemon();
  const long long a = rig_.submit("bert-760M", 128, 300, 4);
  Json job = wait_running(a, 1, 20, 60);
  ASSERT_FALSE(job.empty());
  const std::string dead = job["attempts"][0]["nodes"];
  ASSERT_GT(cluster_->kill_node(dead), 0) << "no job process found on " << dead;
  const long long kept = checkpoint_of(a);  // its processes are dead: the last checkpoint
  EXPECT_GE(kept, 10);
  // Slurm marks the node down; the attempt is recorded lost and the job resumes on the other.
  job = wait_running(a, 2, 0, 90);
  ASSERT_EQ(job["attempts"].size(), 2u) << job.dump();
  EXPECT_EQ(job["attempts"][0]["state"], "lost") << job.dump();
  EXPECT_NE(job["attempts"][1]["nodes"], dead) << job.dump();
  EXPECT_EQ(cluster_->node_state(dead).rfind("down", 0), 0u) << cluster_->node_state(dead);
  // The node comes back once its slurmd runs again; a job of both nodes then uses it.
  ASSERT_TRUE(cluster_->start_node(dead));
  ASSERT_TRUE(test::wait_until([&] { return cluster_->node_state(dead) == "idle"; }, 60))
      << cluster_->node_state(dead);
  const long long b = rig_.submit("bert-760M", 128, 30, 8);
  const Json list = finished_once(2);
  ASSERT_EQ(list.size(), 2u);
  for (const auto& j : list) {
    if (j["id"] == a) {
      ASSERT_EQ(j["attempts"].size(), 2u) << j.dump();
      EXPECT_EQ(test::resumed_at(attempt_log(j["attempts"][1])), kept) << j.dump();
    }
    if (j["id"] == b) {
      ASSERT_EQ(j["attempts"].size(), 1u) << j.dump();
      EXPECT_NE(j["attempts"][0]["nodes"].get<std::string>().find(dead), std::string::npos)
          << j.dump();
    }
  }
}

TEST_F(FaultE2E, DrainedNodeIsLeftOutUntilResumed) {
  start_daemon();
  const long long a = rig_.submit("bert-760M", 128, 400, 4);
  Json job = wait_running(a, 1, 20, 60);
  ASSERT_FALSE(job.empty());
  const std::string drained = job["attempts"][0]["nodes"];
  const long long before = job["progress"];  // the USR1 checkpoint holds at least this
  ASSERT_TRUE(cluster_->scontrol_node(drained, "drain"));
  // The next round moves the job off the drained node: checkpoint on USR1, resume elsewhere.
  job = wait_running(a, 2, 0, 60);
  ASSERT_EQ(job["attempts"].size(), 2u) << job.dump();
  EXPECT_EQ(job["attempts"][0]["state"], "preempted") << job.dump();
  const std::string other = job["attempts"][1]["nodes"];
  EXPECT_NE(other, drained);
  // A job of 4 GPUs waits: the only node in service is busy, the drained one is left out.
  const long long b = rig_.submit("bert-760M", 128, 30, 4);
  const double rounds = rig_.metric("gearbox_sched_rounds_total");
  ASSERT_TRUE(test::wait_until(
      [&] { return rig_.metric("gearbox_sched_rounds_total") >= rounds + 4; }, 30));
  EXPECT_EQ(rig_.job(b)["attempts"].size(), 0u) << rig_.job(b).dump();
  EXPECT_EQ(rig_.job(a)["attempts"].size(), 2u) << rig_.job(a).dump();
  // Resumed: the waiting job runs on it while the first still holds the other node.
  ASSERT_TRUE(cluster_->scontrol_node(drained, "resume"));
  const Json list = finished_once(2);
  ASSERT_EQ(list.size(), 2u);
  for (const auto& j : list) {
    if (j["id"] == a) {
      ASSERT_EQ(j["attempts"].size(), 2u) << j.dump();
      EXPECT_GE(test::resumed_at(attempt_log(j["attempts"][1])), before) << j.dump();
    }
    if (j["id"] == b) {
      ASSERT_EQ(j["attempts"].size(), 1u) << j.dump();
      EXPECT_EQ(j["attempts"][0]["nodes"], drained) << j.dump();
    }
  }
}

}  // namespace
}  // namespace gearbox::sched
