// ElasticFlow (deadline-aware elastic scaling), the loosened variant the artifact compares
// against: each job stays on its requested GPU type; its minimum satisfactory share is the
// fewest GPUs (1..16, data-parallel throughput) that meet its deadline. Jobs that can meet
// their deadline are served earliest-deadline-first with at least that share (running jobs
// keep their count when it suffices); the others run best effort in arrival order; leftover
// GPUs double the job with the best marginal throughput per GPU.
#pragma once

#include "gearbox/sched/policy.hpp"

namespace gearbox::sched {

class ElasticFlowPolicy : public Policy {
 public:
  std::string name() const override { return "elasticflow"; }
  void schedule(const RoundInput& in, std::vector<Placement>& target) override;
};

}  // namespace gearbox::sched
