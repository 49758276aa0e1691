// The seam between the scheduler core and a backend: the simulator's backend prices progress as
// the simulator always has, and the core enacts only the difference of each pass.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gearbox/core/error.hpp"
#include "gearbox/sched/scheduler_core.hpp"
#include "gearbox/sched/sim_backend.hpp"
#include "test_support.hpp"

namespace gearbox::sched {
namespace {

test::FakeEstimator one_second() {
  return test::FakeEstimator([](const JobShape&, const std::string&, int) { return 1.0; });
}

ActiveJob job_of(ThroughputTable& table, const ModelCatalog& cat, int id, double iters) {
  ActiveJob a;
  a.id = id;
  a.shape = table.intern({cat.get("bert-760M"), 128});
  a.batch = 128;
  a.remaining_iters = iters;
  return a;
}

TEST(SimBackend, RestartDebtThenIterationsThenFinish) {
  const auto cat = test::tiny_catalog();
  Cluster c;
  c.add_pool("a100", 1, 4);
  const auto est = one_second();
  ThroughputTable table(c, est);
  SimBackend b(c, table, /*pruned_restart=*/false);
  const ActiveJob a = job_of(table, cat, 7, 100);
  b.admit(a);
  b.start(a, {0, 1, 1}, {0}, 0);
  ASSERT_EQ(b.running().size(), 1u);
  EXPECT_EQ(b.running()[0].job, 7);
  EXPECT_EQ(b.running()[0].number, 1);
  // 150 s restart (one GPU, unpruned) then 100 iterations of 1 s.
  EXPECT_DOUBLE_EQ(b.plan_segment(0, 300), 250);
  const auto ev = b.poll(250);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, BackendEvent::Kind::kFinished);
  EXPECT_EQ(ev[0].job, 7);
  EXPECT_DOUBLE_EQ(ev[0].time, 250);
  EXPECT_TRUE(b.running().empty());
  EXPECT_DOUBLE_EQ(b.busy_gpu_seconds(), 250);
}

TEST(SimBackend, PreemptionKeepsProgressAndRestartPaysAgain) {
  const auto cat = test::tiny_catalog();
  Cluster c;
  c.add_pool("a100", 1, 4);
  const auto est = one_second();
  ThroughputTable table(c, est);
  SimBackend b(c, table, /*pruned_restart=*/true);  // Crius: min(10 s x GPUs, 40 s)
  const ActiveJob a = job_of(table, cat, 0, 100);
  b.admit(a);
  b.start(a, {0, 1, 2}, {0}, 0);                  // 2 GPUs: 20 s restart
  EXPECT_DOUBLE_EQ(b.plan_segment(0, 300), 120);  // 20 + 100 x 1 s
  EXPECT_TRUE(b.poll(70).empty());                // 20 s debt, 50 iterations
  EXPECT_DOUBLE_EQ(b.remaining_iters(0), 50);
  b.preempt(0, 70);
  EXPECT_TRUE(b.running().empty());
  EXPECT_DOUBLE_EQ(b.plan_segment(70, 300), kInfeasible);  // pending: nothing runs
  EXPECT_TRUE(b.poll(100).empty());
  EXPECT_DOUBLE_EQ(b.remaining_iters(0), 50);
  b.start(a, {0, 1, 4}, {0}, 100);                  // 4 GPUs: 40 s restart
  EXPECT_DOUBLE_EQ(b.plan_segment(100, 300), 190);  // 100 + 40 + 50
  EXPECT_EQ(b.running()[0].number, 2);
}

TEST(SimBackend, PollBeforePricingIsAnError) {
  Cluster c;
  c.add_pool("a100", 1, 4);
  const auto est = one_second();
  ThroughputTable table(c, est);
  SimBackend b(c, table, false);
  EXPECT_THROW(b.poll(10), Error);
}

// A policy that places jobs as the test says.
class ScriptedPolicy : public Policy {
 public:
  std::vector<Placement> next;
  std::string name() const override { return "scripted"; }
  void schedule(const RoundInput&, std::vector<Placement>& target) override { target = next; }
};

// Records what the core asks of a backend.
class RecordingBackend : public ClusterBackend {
 public:
  explicit RecordingBackend(const Cluster& c) : c_(c) {}
  std::vector<std::string> calls;
  const Cluster& cluster() const override { return c_; }
  std::vector<Attempt> running() const override { return {}; }
  void start(const ActiveJob& a, const Placement& p, const std::vector<int>& nodes,
             double) override {
    std::string s =
        "start " + std::to_string(a.id) + " gpus=" + std::to_string(p.gpus()) + " nodes=";
    for (int n : nodes) s += std::to_string(n) + ";";
    calls.push_back(s);
  }
  void preempt(int job, double) override { calls.push_back("preempt " + std::to_string(job)); }
  double remaining_iters(int) const override { return 0; }
  std::vector<BackendEvent> poll(double) override { return {}; }

 private:
  const Cluster& c_;
};

TEST(SchedulerCore, EnactsOnlyTheDifference) {
  const auto cat = test::tiny_catalog();
  Cluster c;
  c.add_pool("a100", 2, 4);
  const auto est = one_second();
  ThroughputTable table(c, est);
  ScriptedPolicy policy;
  SchedulerCore core(c, table, policy);
  Job j;
  j.model = cat.get("bert-760M");
  j.batch = 128;
  j.iterations = 10;
  j.req_type = "a100";
  j.deadline = 1e9;
  core.admit(0, j, 0);
  core.admit(1, j, 0);
  RecordingBackend b(c);
  // Pass 1: job 0 on 4 GPUs (one node), job 1 on 2.
  policy.next = {{0, 1, 4}, {0, 1, 2}};
  core.enact(core.pass({}), b, 0);
  ASSERT_EQ(b.calls.size(), 2u);
  EXPECT_EQ(b.calls[0].rfind("start 0 gpus=4 nodes=", 0), 0u);
  EXPECT_EQ(b.calls[1].rfind("start 1 gpus=2 nodes=", 0), 0u);
  // Pass 2: nothing changes, nothing is enacted.
  b.calls.clear();
  EXPECT_TRUE(core.pass({}).empty());
  core.enact({}, b, 0);
  EXPECT_TRUE(b.calls.empty());
  // Pass 3: job 0 preempted, job 1 unchanged.
  policy.next = {{}, {0, 1, 2}};
  core.enact(core.pass({}), b, 0);
  EXPECT_EQ(b.calls, std::vector<std::string>{"preempt 0"});
  EXPECT_EQ(core.reschedules(), 1);
  // Departure of job 1: it leaves the active jobs and its GPUs are free again.
  core.depart({1});
  ASSERT_EQ(core.active().size(), 1u);
  EXPECT_EQ(core.active()[0].id, 0);
  EXPECT_EQ(core.allocator().free_gpus(0), 8);
}

// A node out of service (drained, down) leaves placement: the job on it is unplaced, the policy
// sees the smaller pool (a job of 4 GPUs waits rather than over-allocating), and the node is
// used again once back in service.
TEST(SchedulerCore, NodeOutOfServiceIsLeftOutUntilBack) {
  const auto cat = test::tiny_catalog();
  Cluster c;
  c.add_pool("a100", 2, 4);
  const auto est = one_second();
  ThroughputTable table(c, est);
  const auto policy = make_policy("fcfs");
  SchedulerCore core(c, table, *policy);
  Job j;
  j.model = cat.get("bert-760M");
  j.batch = 128;
  j.iterations = 10;
  j.req_gpus = 4;
  j.req_type = "a100";
  j.deadline = 1e9;
  core.admit(0, j, 0);
  RecordingBackend b(c);
  core.enact(core.pass({}), b, 0);
  ASSERT_EQ(core.allocator().nodes_of(0).size(), 1u);
  const int first = core.allocator().nodes_of(0)[0];
  const int other = 1 - first;
  EXPECT_EQ(core.set_node_usable(0, first, false), std::vector<int>{0});
  EXPECT_FALSE(core.active()[0].current.placed());
  EXPECT_TRUE(core.set_node_usable(0, first, false).empty());  // already out: no change
  core.admit(1, j, 0);
  b.calls.clear();
  core.enact(core.pass({}), b, 0);
  EXPECT_EQ(b.calls,
            std::vector<std::string>{"start 0 gpus=4 nodes=" + std::to_string(other) + ";"});
  EXPECT_FALSE(core.active()[1].current.placed());
  EXPECT_EQ(core.allocator().node_free(0, first), 4);
  // Back in service: the waiting job takes it.
  EXPECT_TRUE(core.set_node_usable(0, first, true).empty());
  b.calls.clear();
  core.enact(core.pass({}), b, 0);
  EXPECT_EQ(b.calls,
            std::vector<std::string>{"start 1 gpus=4 nodes=" + std::to_string(first) + ";"});
}

}  // namespace
}  // namespace gearbox::sched
