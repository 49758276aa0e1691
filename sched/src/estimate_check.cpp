#include "gearbox/sched/estimate_check.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "gearbox/sched/constants.hpp"

namespace gearbox::sched {

namespace {

struct Acc {
  int n = 0;
  double sum = 0, sum_model = 0;
  void add(double err, double err_model) {
    ++n;
    sum += err;
    sum_model += err_model;
  }
};

template <class Key, class Name>
std::vector<ErrorGroup> groups(const std::map<Key, Acc>& m, Name name) {
  std::vector<ErrorGroup> out;
  for (const auto& [k, a] : m) out.push_back({name(k), a.n, a.sum / a.n, a.sum_model / a.n});
  return out;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
}

}  // namespace

EstimateCheck run_estimate_check(const ProfileDb& db, const ModelCatalog& models) {
  AnalyticalEstimator est(models);
  est.calibrate(db, CalibrationSplit::kEven);
  const auto entries = optimal_entries(db, models);
  EstimateCheck out;
  out.params = est.params();
  std::map<int, Acc> gpus, nodes;
  std::map<std::string, Acc> fams, types, sizes;
  Acc calib, check, with_res, without_res;
  std::vector<double> check_errs, check_errs_model;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const GpuPool pool = pool_for_type(e.gpu_type);
    const auto all = est.plans(e.job, pool, e.hosts, e.per_host, 0);
    if (all.empty()) continue;
    const double model_s = all.front().iter_s;
    int level = 0;
    const double key_factor = est.residual_factor(e.job, e.gpu_type, e.hosts, e.per_host, &level);
    const double pred = model_s * key_factor;
    const double err = std::fabs(pred / e.e2e_s - 1.0) * 100.0;
    const double err_model = std::fabs(model_s / e.e2e_s - 1.0) * 100.0;
    const bool calibration = i % 2 == 0;
    const bool has_residual = level == 2;
    out.rows.push_back({e.model_key, e.placement_key, e.e2e_s, pred, model_s, calibration, level});
    if (calibration) {
      calib.add(err, err_model);
      continue;
    }
    check.add(err, err_model);
    check_errs.push_back(err);
    check_errs_model.push_back(err_model);
    (has_residual ? with_res : without_res).add(err, err_model);
    if (level == 1) out.check_with_placement_residual++;
    if (!all.front().fits) out.predicted_oom++;
    gpus[e.hosts * e.per_host].add(err, err_model);
    nodes[e.hosts].add(err, err_model);
    fams[models.family(e.job.model.family).name].add(err, err_model);
    types[e.gpu_type].add(err, err_model);
    sizes[e.model_key.substr(0, e.model_key.rfind('_'))].add(err, err_model);
  }
  out.calibration_entries = calib.n;
  out.check_entries = check.n;
  out.mape_calibration = calib.n ? calib.sum / calib.n : 0;
  out.mape_calibration_model = calib.n ? calib.sum_model / calib.n : 0;
  out.mape_check = check.n ? check.sum / check.n : 0;
  out.mape_check_model = check.n ? check.sum_model / check.n : 0;
  out.median_check = median(check_errs);
  out.median_check_model = median(check_errs_model);
  out.check_with_residual = with_res.n;
  out.mape_check_with_residual = with_res.n ? with_res.sum / with_res.n : 0;
  out.mape_check_without_residual = without_res.n ? without_res.sum / without_res.n : 0;
  out.by_gpus = groups(gpus, [](int g) { return std::to_string(g) + " GPUs"; });
  out.by_nodes =
      groups(nodes, [](int h) { return std::to_string(h) + (h > 1 ? " nodes" : " node"); });
  auto same = [](const std::string& s) { return s; };
  out.by_family = groups(fams, same);
  out.by_gpu_type = groups(types, same);
  out.by_model = groups(sizes, same);
  return out;
}

ProfilerCheck run_profiler_check(const ProfileDb& db) {
  std::vector<double> errs;
  for (const auto& [mk, row] : db.optimal_table()) {
    for (const auto& [pk, e2e] : row) {
      if (!(e2e > 0) || e2e > kMaxValidIterTime) continue;
      const auto* plans = db.estimate_all(mk, pk);
      if (!plans) continue;
      double best = kInfeasible;
      for (const auto& p : *plans)
        if (std::isfinite(p.e2e_s) && p.e2e_s > 0) best = std::min(best, p.e2e_s);
      if (std::isfinite(best)) errs.push_back(std::fabs(best / e2e - 1.0) * 100.0);
    }
  }
  ProfilerCheck out;
  out.entries = static_cast<int>(errs.size());
  for (double e : errs) out.mape += e;
  if (!errs.empty()) out.mape /= static_cast<double>(errs.size());
  out.median = median(errs);
  return out;
}

}  // namespace gearbox::sched
