// The Slurm backend against a real Slurm: the local cluster (scripts/slurm-local.sh, started by
// CTest's slurm_local fixture before these tests and stopped after them, also when one fails)
// with a100:2x4 and v100:2x4 nodes. The scheduler core places jobs; the backend submits pinned
// Slurm jobs running `gearbox sched worker`, preempts with USR1 and resumes from checkpoints.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "../test_support.hpp"
#include "gearbox/sched/command_runner.hpp"
#include "gearbox/sched/emulated_worker.hpp"
#include "gearbox/sched/scheduler_core.hpp"
#include "gearbox/sched/slurm_backend.hpp"
#include "gearbox/testing/temp_dir.hpp"

namespace gearbox::sched {
namespace {

const std::filesystem::path kClusterDir = GEARBOX_SLURM_DIR;

class SlurmE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto conf = kClusterDir / "slurm.conf";
    ASSERT_TRUE(std::filesystem::exists(conf))
        << "no local cluster at " << kClusterDir
        << ": run through ctest (fixture slurm_local) or scripts/slurm-local.sh up --dir "
        << kClusterDir;
    ::setenv("SLURM_CONF", conf.c_str(), 1);
  }
  SlurmBackendOptions options() const {
    SlurmBackendOptions o;
    o.partition = "gearbox";
    o.work_dir = dir_.path() / "work";
    o.worker = {GEARBOX_BINARY, "sched", "worker"};
    o.time_scale = 20;  // 1 s estimated iterations run in 50 ms
    o.grace_s = 5;
    return o;
  }
  // Job ids unique to this process: squeue remembers ended jobs by name for an hour.
  static int job_id(int k) { return static_cast<int>(::getpid() % 100000) * 10 + k; }

  gearbox::testing::TempDir dir_;
  ProcessRunner runner_;
};

double wall_now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// Polls `backend` every 200 ms until `done` holds or `limit_s` passes; returns the events seen.
std::vector<BackendEvent> poll_until(
    SlurmBackend& backend, const std::function<bool(const std::vector<BackendEvent>&)>& done,
    double limit_s) {
  std::vector<BackendEvent> seen;
  const double stop = wall_now() + limit_s;
  while (wall_now() < stop) {
    for (const auto& e : backend.poll(wall_now())) seen.push_back(e);
    if (done(seen)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return seen;
}

TEST_F(SlurmE2E, DiscoversNodesAndTypedGpus) {
  SlurmCli cli(runner_);
  SlurmBackend backend(cli, options());
  const Cluster& c = backend.cluster();
  ASSERT_EQ(c.num_pools(), 2);
  EXPECT_EQ(c.pool(0).type, "a100");
  EXPECT_EQ(c.pool(0).nodes, 2);
  EXPECT_EQ(c.pool(0).gpus_per_node, 4);
  EXPECT_EQ(c.pool(1).type, "v100");
  EXPECT_EQ(backend.node_name(1, 1), "v100-1");
}

// A policy that places jobs as the test says.
class ScriptedPolicy : public Policy {
 public:
  std::vector<Placement> next;
  std::string name() const override { return "scripted"; }
  void schedule(const RoundInput&, std::vector<Placement>& target) override { target = next; }
};

// The scheduler core over the Slurm backend, iterations priced at 1 s (50 ms of wall time),
// with one bert-760M job of `iterations` admitted under `id`.
struct Rig {
  Rig(CommandRunner& runner, const SlurmBackendOptions& opt, int id, long long iterations)
      : cli(runner, {4, 0.2, 30}),
        backend(cli, opt),
        table(backend.cluster(), est),
        core(backend.cluster(), table, policy) {
    backend.set_table(&table);
    const auto cat = test::tiny_catalog();
    Job j;
    j.model = cat.get("bert-760M");
    j.batch = 128;
    j.iterations = iterations;
    j.req_type = "a100";
    j.deadline = 1e9;
    backend.admit(core.admit(id, j, 0), j.iterations);
  }
  // The policy's next placement, enacted.
  void place(const Placement& p) {
    policy.next = {p};
    core.enact(core.pass({}), backend, wall_now());
  }
  SlurmCli cli;
  SlurmBackend backend;
  test::FakeEstimator est{[](const JobShape&, const std::string&, int) { return 1.0; }};
  ThroughputTable table;
  ScriptedPolicy policy;
  SchedulerCore core;
};

TEST_F(SlurmE2E, PreemptedJobResumesFromItsCheckpointOnOtherNodesAndFinishesOnce) {
  const int id = job_id(1);
  Rig rig(runner_, options(), id, 80);  // 4 s at 50 ms per iteration
  auto& backend = rig.backend;
  auto& cli = rig.cli;
  // Attempt 1: two A100s on one node.
  rig.place({0, 1, 2});
  ASSERT_GT(backend.slurm_id(id), 0);
  ASSERT_EQ(backend.running().size(), 1u);
  const std::string first_node = backend.node_name(0, backend.running()[0].nodes.at(0));
  const auto progressed = [&](long long n) {
    return [&, n](const std::vector<BackendEvent>&) {
      return read_iterations_file(backend.progress_path(id)) >= n;
    };
  };
  auto ev = poll_until(backend, progressed(15), 60);
  ASSERT_TRUE(ev.empty()) << "attempt 1 ended early";
  ASSERT_GE(read_iterations_file(backend.progress_path(id)), 15);

  // Preempted: USR1, the worker checkpoints and exits.
  rig.place({});
  EXPECT_EQ(backend.slurm_id(id), 0);
  poll_until(
      backend,
      [&](const std::vector<BackendEvent>&) {
        return read_iterations_file(backend.checkpoint_path(id)) ==
               read_iterations_file(backend.progress_path(id));
      },
      30);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const long long kept = backend.checkpointed(id);
  EXPECT_GE(kept, 15);
  EXPECT_LT(kept, 80);
  EXPECT_DOUBLE_EQ(backend.remaining_iters(id), static_cast<double>(80 - kept));

  // Attempt 2: one V100 on each of two nodes; it resumes and finishes.
  rig.place({1, 2, 1});
  ev = poll_until(
      backend, [](const std::vector<BackendEvent>& e) { return !e.empty(); }, 90);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, BackendEvent::Kind::kFinished);
  EXPECT_EQ(ev[0].job, id);
  EXPECT_EQ(read_iterations_file(backend.progress_path(id)), 80);

  // Slurm ran exactly two jobs for it, pinned as placed, and none is left running.
  int attempts = 0;
  for (const auto& sj : cli.jobs()) {
    if (sj.comment.rfind("crius:" + std::to_string(id) + ":", 0) != 0) continue;
    ++attempts;
    EXPECT_NE(sj.state, "RUNNING");
    if (sj.name == "crius-" + std::to_string(id) + "-2") {
      EXPECT_EQ(sj.nodes, "v100-[0-1]");
    }
    if (sj.name == "crius-" + std::to_string(id) + "-1") {
      EXPECT_EQ(sj.nodes, first_node);
    }
  }
  EXPECT_EQ(attempts, 2);
}

TEST_F(SlurmE2E, KilledJobProcessIsReportedFailed) {
  const int id = job_id(2);
  Rig rig(runner_, options(), id, 2000);  // would take 100 s
  auto& backend = rig.backend;
  auto& core = rig.core;
  rig.place({0, 1, 1});
  const long long sid = backend.slurm_id(id);
  ASSERT_GT(sid, 0);
  poll_until(
      backend,
      [&](const std::vector<BackendEvent>&) {
        return read_iterations_file(backend.progress_path(id)) >= 3;
      },
      60);
  // SIGKILL to the batch script's process (the worker: the script execs it).
  SlurmCli raw(runner_);
  raw.signal(sid, "KILL");
  const auto ev = poll_until(
      backend, [](const std::vector<BackendEvent>& e) { return !e.empty(); }, 60);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, BackendEvent::Kind::kFailed);
  core.unplace(id);
  EXPECT_FALSE(core.active()[0].current.placed());
  EXPECT_EQ(core.allocator().free_gpus(0), 8);
}

}  // namespace
}  // namespace gearbox::sched
