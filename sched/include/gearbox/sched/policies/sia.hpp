// Sia: a configuration ILP each round with arrivals or departures. A configuration is (GPU type,
// count 1..16); its utility is the job's data-parallel goodput there over the job's slowest
// feasible goodput, raised to p = 0.5 (Sia's p_fairness), times (1 - restart share of the
// round) for running jobs that would change. Binary x[job][config], at most one configuration
// per job, GPUs per type within capacity, at most 3 running jobs changed or preempted per
// round (MAX_MGRT_JOB_NUM). The 32 running jobs gaining most per GPU from doubling and the 32
// losing least from halving may change (current, half or double on their type; the others
// keep their GPUs); the 32 oldest runnable pending jobs consider every configuration. GLPK MIP
// (branch and bound to a 1% gap or 200 nodes, deterministic).
#pragma once

#include "gearbox/sched/policy.hpp"

namespace gearbox::sched {

class SiaPolicy : public Policy {
 public:
  std::string name() const override { return "sia"; }
  // Solves at round boundaries only; a departure inside a round is remembered for the next.
  void schedule(const RoundInput& in, std::vector<Placement>& target) override;

 private:
  bool departed_ = false;  // a departure pass was skipped since the last boundary
};

}  // namespace gearbox::sched
