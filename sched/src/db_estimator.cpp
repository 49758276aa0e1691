#include "gearbox/sched/db_estimator.hpp"

#include <cmath>

#include "gearbox/core/error.hpp"
#include "gearbox/sched/analytical_estimator.hpp"
#include "gearbox/sched/constants.hpp"

namespace gearbox::sched {

namespace {
double round3(double v) {
  return std::round(v * 1000.0) / 1000.0;
}
}  // namespace

double DbEstimator::query(const JobShape& job, const GpuPool& pool, int hosts, int per_host,
                          bool apply_factors) const {
  const std::string mk = models_.profile_key(job.model, job.batch);
  const std::string pk = placement_key(pool.type, hosts, per_host);
  double factor = 1.0;
  std::optional<double> e2e = db_.optimal(mk, pk);
  if (!e2e) {  // relaxed locality: use the best locality of the same GPU count
    const int n = hosts * per_host;
    const int cap = pool.gpus_per_node;
    const Placement best = best_locality(0, n, cap);
    const std::string bk = placement_key(pool.type, best.hosts, best.per_host);
    if (bk != pk) e2e = db_.optimal(mk, bk);
    if (e2e) {
      const int steps = static_cast<int>(std::log2(static_cast<double>(best.per_host / per_host)));
      if (steps > 0) factor = std::pow(kLocalityScaleFactor, steps);
    }
  }
  if (!e2e) {  // a larger model of the same family at the same key
    const auto& sizes = models_.family(job.model.family).sizes;
    for (int s = job.model.size + 1; s < static_cast<int>(sizes.size()) && !e2e; ++s) {
      e2e = db_.optimal(models_.profile_key({job.model.family, s}, job.batch), pk);
      if (e2e) factor = std::pow(kParamNumScaleFactor, s - job.model.size);
    }
  }
  if (!e2e || !(*e2e > 0) || *e2e > kMaxValidIterTime) return kInfeasible;
  double thr = round3(job.batch / *e2e);
  if (apply_factors) thr *= factor;
  if (!(thr > 0)) return kInfeasible;
  return round3(job.batch / thr);
}

ParallelPlan DbEstimator::best_parallel_plan(const JobShape& job, const GpuPool& pool, int hosts,
                                             int per_host) const {
  ParallelPlan out = Estimator::best_parallel_plan(job, pool, hosts, per_host);
  const auto* plans = db_.estimate_all(models_.profile_key(job.model, job.batch),
                                       placement_key(pool.type, hosts, per_host));
  double best = kInfeasible;
  for (const auto& p : plans ? *plans : std::vector<ProfiledPlan>{}) {
    if (p.e2e_s > 0 && p.e2e_s < best && p.pp * p.dp * p.tp == hosts * per_host) {
      best = p.e2e_s;
      out = {p.pp, p.dp, p.tp};
    }
  }
  return out;
}

bool DbEstimator::dp_out_of_memory(const JobShape& job, const GpuPool& pool, int gpus) const {
  const auto* row = db_.dp_mem(models_.profile_key(job.model, job.batch));
  const int idx = gpu_count_index(gpus);
  if (!row || idx < 0) return true;
  const double m = (*row)[static_cast<std::size_t>(idx)];
  return m != 0 && (m == -1 || m * kDpMemMargin > pool.spec->memory_gb * kXlaMemFraction);
}

double DbEstimator::best_iter_time(const JobShape& job, const GpuPool& pool, int hosts,
                                   int per_host) const {
  return query(job, pool, hosts, per_host, true);
}

double DbEstimator::dp_iter_time(const JobShape& job, const GpuPool& pool, int hosts, int per_host,
                                 bool oom_gate) const {
  if (oom_gate && dp_out_of_memory(job, pool, hosts * per_host)) return kInfeasible;
  return query(job, pool, hosts, per_host, false);
}

std::unique_ptr<Estimator> make_estimator(const std::string& name) {
  if (name == "db") {
    return std::make_unique<DbEstimator>(ProfileDb::shared(), ModelCatalog::shared());
  }
  if (name == "analytical") {
    auto a = std::make_unique<AnalyticalEstimator>(ModelCatalog::shared());
    a->calibrate(ProfileDb::shared(), CalibrationSplit::kAll);
    return a;
  }
  throw Error::usage("unknown estimator")
      .field("--estimator")
      .expected("db or analytical")
      .found(name);
}

}  // namespace gearbox::sched
