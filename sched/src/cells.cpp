#include "gearbox/sched/cells.hpp"

#include <algorithm>
#include <limits>

#include "gearbox/sched/constants.hpp"

namespace gearbox::sched {

std::vector<Cell> enumerate_cells(const JobShape& job, const Cluster& cluster,
                                  const AnalyticalEstimator& est, int max_gpus) {
  std::vector<Cell> out;
  for (int p = 0; p < cluster.num_pools(); ++p) {
    const GpuPool& pool = cluster.pool(p);
    for (int n : kGpuCounts) {
      if (n > max_gpus || n > pool.gpus()) continue;
      // Localities: D GPUs on each of n/D hosts, D a power of two up to the node size.
      for (int d = std::min(n, pool.gpus_per_node); d >= 1; d /= 2) {
        if (n % d || n / d > pool.nodes) continue;
        for (int s = 1; s <= n; s *= 2) {
          const auto plans = est.plans(job, pool, n / d, d, s);
          if (plans.empty()) continue;
          Cell c;
          c.placement = {p, n / d, d};
          c.stages = s;
          c.plans_explored = static_cast<int>(plans.size());
          c.min_mem_gb = std::numeric_limits<double>::infinity();
          for (const auto& pl : plans) c.min_mem_gb = std::min(c.min_mem_gb, pl.mem_gb);
          if (plans.front().fits) c.best = plans.front();
          out.push_back(c);
        }
      }
    }
  }
  return out;
}

}  // namespace gearbox::sched
