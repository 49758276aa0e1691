#include "gearbox/sched/estimate_check.hpp"

#include <cmath>
#include <map>

namespace gearbox::sched {

EstimateCheck run_estimate_check(const ProfileDb& db, const ModelCatalog& models) {
  AnalyticalEstimator est(models);
  est.calibrate(db, CalibrationSplit::kEven);
  const auto entries = optimal_entries(db, models);
  EstimateCheck out;
  out.params = est.params();
  struct Acc {
    int n = 0;
    double sum = 0;
  };
  std::map<int, Acc> gpus;
  std::map<std::string, Acc> fams, types;
  Acc calib, check;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const GpuPool pool = pool_for_type(e.gpu_type);
    const auto all = est.plans(e.job, pool, e.hosts, e.per_host, 0);
    if (all.empty()) continue;
    const double err = std::fabs(all.front().iter_s / e.e2e_s - 1.0) * 100.0;
    out.rows.push_back({e.model_key, e.placement_key, e.e2e_s, all.front().iter_s, i % 2 == 0});
    if (i % 2 == 0) {
      calib.n++;
      calib.sum += err;
      continue;
    }
    check.n++;
    check.sum += err;
    if (!all.front().fits) out.predicted_oom++;
    auto add = [&](Acc& a) {
      a.n++;
      a.sum += err;
    };
    add(gpus[e.hosts * e.per_host]);
    add(fams[models.family(e.job.model.family).name]);
    add(types[e.gpu_type]);
  }
  out.calibration_entries = calib.n;
  out.check_entries = check.n;
  out.mape_calibration = calib.n ? calib.sum / calib.n : 0;
  out.mape_check = check.n ? check.sum / check.n : 0;
  for (const auto& [g, a] : gpus)
    out.by_gpus.push_back({std::to_string(g) + " GPUs", a.n, a.sum / a.n});
  for (const auto& [f, a] : fams) out.by_family.push_back({f, a.n, a.sum / a.n});
  for (const auto& [t, a] : types) out.by_gpu_type.push_back({t, a.n, a.sum / a.n});
  return out;
}

}  // namespace gearbox::sched
