// Iteration times of every job shape on every (pool, GPU count) at the best locality, priced
// once per shape by an Estimator: the best plan (what jobs run with) and pure data parallelism
// behind the DP memory gate (what the baselines decide with). Lookups are O(1).
#pragma once

#include <array>
#include <map>
#include <utility>
#include <vector>

#include "gearbox/sched/cluster.hpp"
#include "gearbox/sched/constants.hpp"
#include "gearbox/sched/estimator.hpp"

namespace gearbox::sched {

class ThroughputTable {
 public:
  ThroughputTable(const Cluster& cluster, const Estimator& est) : cluster_(cluster), est_(est) {}
  // The id of a shape, pricing it on first sight.
  int intern(const JobShape& shape);
  const JobShape& shape(int id) const { return shapes_[static_cast<std::size_t>(id)].shape; }
  // Seconds per iteration of the best plan on n GPUs of `pool` (best locality); kInfeasible if
  // it cannot run or n is not a supported count.
  double opt_iter(int id, int pool, int n) const { return get(id, pool, n).first; }
  // Seconds per iteration with data parallelism only, after the DP memory gate.
  double dp_iter(int id, int pool, int n) const { return get(id, pool, n).second; }
  // Samples per second (0 when infeasible).
  double opt_thr(int id, int pool, int n) const { return thr(id, opt_iter(id, pool, n)); }
  double dp_thr(int id, int pool, int n) const { return thr(id, dp_iter(id, pool, n)); }
  const Cluster& cluster() const { return cluster_; }
  // The degrees of the plan a job of shape `id` runs with on `p` (the estimator's).
  ParallelPlan plan(int id, const Placement& p) const {
    return est_.best_parallel_plan(shape(id), cluster_.pool(p.pool), p.hosts, p.per_host);
  }

 private:
  struct Entry {
    JobShape shape;
    std::vector<std::array<std::pair<double, double>, kNumGpuCounts>> times;  // [pool][count]
  };
  std::pair<double, double> get(int id, int pool, int n) const;
  double thr(int id, double iter) const;
  const Cluster& cluster_;
  const Estimator& est_;
  std::vector<Entry> shapes_;
  std::map<std::pair<std::pair<int, int>, int>, int> index_;
};

}  // namespace gearbox::sched
