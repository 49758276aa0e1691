#include "gearbox/sched/policy.hpp"

#include <algorithm>

#include "gearbox/core/error.hpp"
#include "gearbox/sched/policies/crius.hpp"
#include "gearbox/sched/policies/elasticflow.hpp"
#include "gearbox/sched/policies/fcfs.hpp"
#include "gearbox/sched/policies/gavel.hpp"
#include "gearbox/sched/policies/sia.hpp"

namespace gearbox::sched {

std::vector<std::string> policy_names() {
  return {"crius", "crius-dp", "fcfs", "gavel", "gavel-thr", "sia", "elasticflow"};
}

std::unique_ptr<Policy> make_policy(const std::string& name) {
  if (name == "crius") return std::make_unique<CriusPolicy>(false);
  if (name == "crius-dp") return std::make_unique<CriusPolicy>(true);
  if (name == "fcfs") return std::make_unique<FcfsPolicy>();
  if (name == "gavel")
    return std::make_unique<GavelPolicy>(GavelPolicy::Objective::kMaxMinFairness);
  if (name == "gavel-thr") {
    return std::make_unique<GavelPolicy>(GavelPolicy::Objective::kMaxTotalThroughput);
  }
  if (name == "sia") return std::make_unique<SiaPolicy>();
  if (name == "elasticflow") return std::make_unique<ElasticFlowPolicy>();
  std::string known;
  for (const auto& n : policy_names()) known += (known.empty() ? "" : ", ") + n;
  throw Error::usage("unknown policy").field("--policy").expected("one of " + known).found(name);
}

std::vector<int> free_gpus(const Cluster& cluster, const std::vector<Placement>& target) {
  std::vector<int> free(static_cast<std::size_t>(cluster.num_pools()));
  for (int p = 0; p < cluster.num_pools(); ++p)
    free[static_cast<std::size_t>(p)] = cluster.pool(p).gpus();
  for (const auto& t : target)
    if (t.placed()) free[static_cast<std::size_t>(t.pool)] -= t.gpus();
  return free;
}

Placement cell_of(const Cluster& cluster, int pool, int n) {
  return best_locality(pool, n, cluster.pool(pool).gpus_per_node);
}

double restart_overhead(bool pruned, int gpus) {
  return pruned ? std::min(kReschedWithPrune * gpus, kMaxReschedWithPrune)
                : std::min(kReschedWithoutPrune * gpus, kMaxReschedWithoutPrune);
}

}  // namespace gearbox::sched
