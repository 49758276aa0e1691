// FCFS: jobs start in arrival order on their requested GPU type and count, never resized or
// preempted. A job blocked on a type blocks later jobs of that type only (one queue per type).
// A request the cluster cannot run (type absent, or no profile) falls back to the same count on
// the most capable type that can run it.
#pragma once

#include "gearbox/sched/policy.hpp"

namespace gearbox::sched {

class FcfsPolicy : public Policy {
 public:
  std::string name() const override { return "fcfs"; }
  void schedule(const RoundInput& in, std::vector<Placement>& target) override;
};

// The pool a job runs on when it keeps its requested count: its requested pool if the job can
// run there (per `iter`: opt or dp view), else the most capable pool that can; -1 if none.
int requested_or_fallback_pool(const RoundInput& in, const ActiveJob& j, bool dp_view);

}  // namespace gearbox::sched
