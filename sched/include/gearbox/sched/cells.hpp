// Cells: a job with a fixed resource set (GPU type, hosts x GPUs per host) and a fixed number
// of pipeline stages. Enumeration covers every pool, every supported GPU count (1..16) that
// the pool holds, every locality of that count (best and relaxed) and every power-of-two stage
// count; inside a Cell only data x tensor parallelism is explored for the best plan.
#pragma once

#include <optional>
#include <vector>

#include "gearbox/sched/analytical_estimator.hpp"
#include "gearbox/sched/cluster.hpp"

namespace gearbox::sched {

struct Cell {
  Placement placement;
  int stages = 1;                    // pipeline stages
  std::optional<PlanEstimate> best;  // best (dp, tp) that fits in memory, if any
  double min_mem_gb = 0;             // least per-GPU memory over the Cell's plans
  int plans_explored = 0;
};

// Every Cell of `job` on `cluster`, ordered by pool, GPU count, locality, stages.
std::vector<Cell> enumerate_cells(const JobShape& job, const Cluster& cluster,
                                  const AnalyticalEstimator& est, int max_gpus = 16);

}  // namespace gearbox::sched
