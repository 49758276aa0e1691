// The scheduler core both backends share: the active jobs (arrival order), a scheduling pass
// (the policy decides GPU type and count, the NodeAllocator picks nodes), and enacting only the
// difference on a ClusterBackend. Arrivals and departures come from the caller (the simulator's
// trace, a daemon's API and its backend's events).
#pragma once

#include <vector>

#include "gearbox/sched/cluster_backend.hpp"
#include "gearbox/sched/node_allocator.hpp"
#include "gearbox/sched/policy.hpp"
#include "gearbox/sched/throughput_table.hpp"
#include "gearbox/sched/trace.hpp"

namespace gearbox::sched {

// A job whose placement a pass changed, or whose nodes it changed (moved: a migration by the
// allocator's repacking, same placement).
struct PlacementChange {
  int job = -1;
  Placement from, to;
  bool moved = false;
};

struct PassContext {
  double now = 0;
  int round = 0;
  bool boundary = true;  // a round's start (false: a pass at a departure inside a round)
  bool arrivals = false;
  bool departures = false;
};

class SchedulerCore {
 public:
  // `cluster`, `table` and `policy` must outlive the core.
  SchedulerCore(const Cluster& cluster, ThroughputTable& table, Policy& policy);

  // An arrival at `now`: job `id` joins the active jobs, pending; its deadline is rescaled from
  // `now` as in the artifact. Returns its entry.
  const ActiveJob& admit(int id, const Job& job, double now);
  // Runs the policy and the node allocator; updates each job's current placement and returns
  // what changed (in arrival order, then migrations).
  std::vector<PlacementChange> pass(const PassContext& ctx);
  // Enacts `changes` on `backend`: a new attempt for a job given (or moved to) a placement, a
  // preemption for a job left without one.
  void enact(const std::vector<PlacementChange>& changes, ClusterBackend& backend,
             double now) const;
  // Departures: frees the jobs' nodes and removes them from the active jobs.
  void depart(const std::vector<int>& ids);
  // Job `id` already runs on `placement` at `nodes` (adopted after a restart); false if the
  // nodes lack the GPUs (the caller then stops that attempt).
  bool adopt(int id, const Placement& placement, const std::vector<int>& nodes);
  // A job's attempt ended without finishing (failed, lost): it frees its nodes and waits,
  // pending, for the next pass.
  void unplace(int id);
  // Takes a node out of service (a drained or down node: `usable` false) or back. From the next
  // pass the policy sees only the nodes in service and the allocator places nothing on the
  // node. Jobs holding a node taken out are unplaced (pending) and returned, in arrival order:
  // the caller stops their attempts.
  std::vector<int> set_node_usable(int pool, int node, bool usable);
  // Copies each active job's remaining iterations from the backend.
  void sync_progress(const ClusterBackend& backend);

  const std::vector<ActiveJob>& active() const { return active_; }
  const NodeAllocator& allocator() const { return nodes_; }

  // Counters over all passes.
  long long reschedules() const { return reschedules_; }  // changes of running jobs' placements
  long long migrations() const { return migrations_; }    // of which node moves
  int passes() const { return passes_; }
  double pass_ms() const { return pass_ms_; }          // policy + allocator time, all passes
  double max_pass_ms() const { return max_pass_ms_; }  // the longest pass (wall)
  // The most CPU one pass took (this thread's CPU time: unlike wall time, not inflated when a
  // loaded machine preempts the thread).
  double max_pass_cpu_ms() const { return max_pass_cpu_ms_; }

 private:
  const Cluster& cluster_;
  ThroughputTable& table_;
  Policy& policy_;
  NodeAllocator nodes_;
  Cluster in_service_;  // what policies see while some node is out of service
  bool all_in_service_ = true;
  std::vector<ActiveJob> active_;
  std::vector<Placement> target_, old_;
  std::vector<int> ids_;
  long long reschedules_ = 0, migrations_ = 0;
  int passes_ = 0;
  double pass_ms_ = 0, max_pass_ms_ = 0, max_pass_cpu_ms_ = 0;
};

}  // namespace gearbox::sched
