// The simulator's ClusterBackend: jobs progress analytically. A (re)started job first pays its
// restart overhead (carried as debt across segments and preemptions), then advances at the
// iteration time of the best plan for its placement; it never starts before its submission time
// and finishes at the exact second its last iteration ends. Time moves in segments: the loop
// prices one with plan_segment() (which gives the next departure) and advances it with poll().
#pragma once

#include <map>
#include <vector>

#include "gearbox/sched/cluster_backend.hpp"
#include "gearbox/sched/constants.hpp"
#include "gearbox/sched/throughput_table.hpp"

namespace gearbox::sched {

class SimBackend : public ClusterBackend {
 public:
  // `table` prices iterations; `pruned_restart` selects Crius's restart overhead.
  SimBackend(const Cluster& cluster, const ThroughputTable& table, bool pruned_restart);

  // Round length the per-round throughput is normalised by (default kSchedulingInterval) and
  // seconds every start pays on top of its restart overhead (a real cluster's submission
  // latency; default 0).
  void set_round_seconds(double s) { round_s_ = s; }
  void set_start_latency(double s) { start_latency_s_ = s; }

  // Registers an arrived job (pending, its remaining iterations and submission time).
  void admit(const ActiveJob& job);

  const Cluster& cluster() const override { return cluster_; }
  std::vector<Attempt> running() const override;
  void start(const ActiveJob& job, const Placement& placement, const std::vector<int>& nodes,
             double now) override;
  void preempt(int job, double now) override;
  double remaining_iters(int job) const override;
  // Advances the segment priced by plan_segment() to `until` (<= its round end): restart debt
  // is paid, iterations run, jobs whose last iteration ends by `until` finish (kFinished at
  // that second) and leave the backend. Throws Error::runtime without a priced segment.
  std::vector<BackendEvent> poll(double until) override;

  // Prices the segment starting at `seg` inside a round ending at `round_end`: when each placed
  // job would finish. Returns the earliest such time (kInfeasible if none).
  double plan_segment(double seg, double round_end);

  // GPU-seconds held by placed jobs so far.
  double busy_gpu_seconds() const { return busy_gpu_s_; }
  // Cluster samples/s over the current round (the artifact's per-round sample), then resets it.
  double take_round_throughput();
  // True when some placed job could run (finite iteration time) in a segment since the last call.
  bool take_progressed();

 private:
  struct SimJob {
    int batch = 0;
    int shape = 0;
    double submit = 0;
    double remaining = 0;  // iterations still to run
    double debt = 0;       // restart seconds still to pay
    int attempts = 0;
    Placement placement;  // not placed = pending
    std::vector<int> nodes;
    // Priced by plan_segment():
    double start = 0, iter = 0, finish = 0;
  };
  SimJob& job(int id);
  const SimJob& job(int id) const;

  const Cluster& cluster_;
  const ThroughputTable& table_;
  bool pruned_;
  std::map<int, SimJob> jobs_;  // admitted and not finished, by id
  bool planned_ = false;
  double seg_ = 0;
  double busy_gpu_s_ = 0, round_thr_ = 0;
  bool progressed_ = false;
  double round_s_ = kSchedulingInterval, start_latency_s_ = 0;
};

}  // namespace gearbox::sched
