// Crius (the paper's policy). Each job is a set of Cells (GPU type x count, best locality) priced
// by the best plan inside. On a round with arrivals or departures: pending jobs are placed in
// arrival order on the free Cell of highest throughput (at most the requested GPUs); a job that
// fits nowhere triggers a bounded downgrade search (up to 2 levels: halve a running job's GPUs
// or move it to another type) taking the option of largest gain in total throughput; when no
// job is left pending, up to 10 growth/upgrade steps give free GPUs to the running jobs that
// gain most per GPU. Node fragmentation is removed by migration (NodeAllocator). Restarts cost
// min(10 s x GPUs, 40 s). `crius-dp` decides with data-parallel performance behind the DP
// memory gate (the ablation without adaptive parallelism).
#pragma once

#include "gearbox/sched/policy.hpp"

namespace gearbox::sched {

class CriusPolicy : public Policy {
 public:
  explicit CriusPolicy(bool dp_only) : dp_only_(dp_only) {}
  std::string name() const override { return dp_only_ ? "crius-dp" : "crius"; }
  bool pruned_restart() const override { return true; }
  void schedule(const RoundInput& in, std::vector<Placement>& target) override;

 private:
  double thr(const RoundInput& in, const ActiveJob& j, int pool, int n) const {
    return dp_only_ ? in.table->dp_thr(j.shape, pool, n) : in.table->opt_thr(j.shape, pool, n);
  }
  bool place_with_downgrades(const RoundInput& in, std::size_t job, std::vector<Placement>& target,
                             std::vector<int>& free, std::vector<int>& shrinks);
  void upgrade(const RoundInput& in, std::vector<Placement>& target, std::vector<int>& free);
  bool dp_only_;
};

}  // namespace gearbox::sched
