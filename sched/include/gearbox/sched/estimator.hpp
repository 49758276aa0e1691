// One interface for pricing a job on a placement: the iteration time of its best plan
// (adaptive parallelism, what a job runs with) and of pure data parallelism (what the
// baselines decide with). Implementations: DbEstimator (the artifact's profile database) and
// AnalyticalEstimator (our cost model).
#pragma once

#include <limits>
#include <memory>
#include <string>

#include "gearbox/sched/cluster.hpp"
#include "gearbox/sched/placement.hpp"

namespace gearbox::sched {

inline constexpr double kInfeasible = std::numeric_limits<double>::infinity();

// The parallel degrees of a plan: pipeline stages x data parallel x tensor parallel = GPUs.
struct ParallelPlan {
  int stages = 1, dp = 1, tp = 1;
};

class Estimator {
 public:
  virtual ~Estimator() = default;
  virtual std::string name() const = 0;
  // Seconds per iteration of the best plan for `job` on hosts x per_host GPUs of `pool`;
  // kInfeasible when it cannot run there.
  virtual double best_iter_time(const JobShape& job, const GpuPool& pool, int hosts,
                                int per_host) const = 0;
  // Seconds per iteration with pure data parallelism as the baselines see it; with `oom_gate`
  // a placement whose DP replica does not fit in memory is kInfeasible.
  virtual double dp_iter_time(const JobShape& job, const GpuPool& pool, int hosts, int per_host,
                              bool oom_gate) const = 0;
  // The degrees of the plan the job runs with on hosts x per_host GPUs of `pool` (what its
  // worker is told); pure data parallelism where the estimator knows no better plan.
  virtual ParallelPlan best_parallel_plan(const JobShape& /*job*/, const GpuPool& /*pool*/,
                                          int hosts, int per_host) const {
    return {1, hosts * per_host, 1};
  }
};

// "db" -> DbEstimator over ProfileDb::shared(); "analytical" -> AnalyticalEstimator calibrated
// on the database. Throws Error::usage for another name.
std::unique_ptr<Estimator> make_estimator(const std::string& name);

}  // namespace gearbox::sched
