#include "gearbox/sched/policies/fcfs.hpp"

#include <cmath>

namespace gearbox::sched {

int requested_or_fallback_pool(const RoundInput& in, const ActiveJob& j, bool dp_view) {
  auto ok = [&](int p) {
    const double t = dp_view ? in.table->dp_iter(j.shape, p, j.req_gpus)
                             : in.table->opt_iter(j.shape, p, j.req_gpus);
    return std::isfinite(t);
  };
  if (j.req_pool >= 0 && ok(j.req_pool)) return j.req_pool;
  int best = -1;
  for (int p = 0; p < in.cluster->num_pools(); ++p) {
    if (ok(p) && (best < 0 || in.cluster->pool(p).rank > in.cluster->pool(best).rank)) best = p;
  }
  return best;
}

void FcfsPolicy::schedule(const RoundInput& in, std::vector<Placement>& target) {
  const auto& jobs = *in.jobs;
  std::vector<int> free = free_gpus(*in.cluster, target);
  std::vector<bool> blocked(free.size(), false);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (target[i].placed()) continue;
    const int pool = requested_or_fallback_pool(in, jobs[i], false);
    if (pool < 0 || blocked[static_cast<std::size_t>(pool)]) continue;
    if (free[static_cast<std::size_t>(pool)] >= jobs[i].req_gpus) {
      target[i] = cell_of(*in.cluster, pool, jobs[i].req_gpus);
      free[static_cast<std::size_t>(pool)] -= jobs[i].req_gpus;
    } else {
      blocked[static_cast<std::size_t>(pool)] = true;
    }
  }
}

}  // namespace gearbox::sched
