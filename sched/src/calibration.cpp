// Calibration of the analytical estimator on the artifact's profile database.
#include <algorithm>
#include <cmath>
#include <map>

#include "gearbox/sched/analytical_estimator.hpp"
#include "gearbox/sched/cluster.hpp"
#include "gearbox/sched/constants.hpp"

namespace gearbox::sched {

GpuPool pool_for_type(const std::string& gpu_type) {
  GpuPool p;
  p.type = gpu_type;
  p.spec = &GpuCatalog::builtin().get(gpu_type);
  p.gpus_per_node = std::max(1, artifact_node_capacity(gpu_type));
  p.nodes = 16;
  p.rank = gpu_rank(gpu_type, *p.spec);
  return p;
}

std::vector<ProfileEntry> optimal_entries(const ProfileDb& db, const ModelCatalog& models) {
  std::vector<ProfileEntry> out;
  for (const auto& [mk, row] : db.optimal_table()) {
    const auto b = mk.rfind('_');
    if (b == std::string::npos || b == 0) continue;
    const auto s = mk.rfind('_', b - 1);
    if (s == std::string::npos) continue;
    const ModelRef m = models.find(mk.substr(0, s) + "__" + mk.substr(s + 1, b - s - 1));
    if (m.family < 0) continue;
    const int batch = std::atoi(mk.c_str() + b + 1);
    for (const auto& [pk, e2e] : row) {
      // "H_type_H_n_D_d"
      const auto u1 = pk.find('_');
      const auto u2 = pk.find('_', u1 + 1);
      const auto nn = pk.find("_n_");
      if (u1 == std::string::npos || u2 == std::string::npos || nn == std::string::npos) continue;
      ProfileEntry e;
      e.job = {m, batch};
      e.gpu_type = pk.substr(u1 + 1, u2 - u1 - 1);
      e.hosts = std::atoi(pk.c_str());
      e.per_host = std::atoi(pk.c_str() + nn + 3);
      e.e2e_s = e2e;
      e.model_key = mk;
      e.placement_key = pk;
      if (!GpuCatalog::builtin().find(e.gpu_type) || e.hosts <= 0 || e.per_host <= 0) continue;
      if (!(e2e > 0) || e2e > kMaxValidIterTime) continue;
      out.push_back(std::move(e));
    }
  }
  return out;
}

void AnalyticalEstimator::calibrate(const ProfileDb& db, CalibrationSplit split) {
  const std::size_t nf = models_.families().size();
  params_.log_residual.clear();
  // 1. Activation coefficients from dp_mem: least squares of measured minus state memory.
  for (std::size_t f = 0; f < nf; ++f) {
    double num = 0, den = 0;
    params_.act_coeff[f] = 1.0;
    for (int s = 0; s < static_cast<int>(models_.family(static_cast<int>(f)).sizes.size()); ++s) {
      for (int batch : models_.family(static_cast<int>(f)).batch_sizes) {
        const JobShape job{{static_cast<int>(f), s}, batch};
        const auto* row = db.dp_mem(models_.profile_key(job.model, batch));
        if (!row) continue;
        const GpuPool pool = pool_for_type("a40");
        for (int i = 0; i < kNumGpuCounts; ++i) {
          const double measured = (*row)[static_cast<std::size_t>(i)];
          if (measured <= 0) continue;
          const int n = kGpuCounts[static_cast<std::size_t>(i)];
          params_.act_coeff[f] = 0.0;
          const double base = evaluate(job, pool, 1, n, 1, n, 1).mem_gb;
          params_.act_coeff[f] = 1.0;
          const double act = evaluate(job, pool, 1, n, 1, n, 1).mem_gb - base;
          num += act * (measured - base);
          den += act * act;
        }
      }
    }
    params_.act_coeff[f] = den > 0 ? std::max(0.05, num / den) : 1.0;
  }
  // 2. Time parameters: coordinate descent on the mean absolute percentage error.
  auto entries = optimal_entries(db, models_);
  std::vector<ProfileEntry> fit;
  for (std::size_t i = 0; i < entries.size(); ++i)
    if (split == CalibrationSplit::kAll || i % 2 == 0) fit.push_back(entries[i]);
  std::vector<GpuPool> pools;
  for (const auto& e : fit) {
    if (!params_.efficiency.count(e.gpu_type)) params_.efficiency[e.gpu_type].assign(nf, 0.3);
    params_.intra_link.emplace(e.gpu_type, 0.7);
    params_.inter_link.emplace(e.gpu_type, 0.7);
    params_.host_alpha.emplace(e.gpu_type, 20e-6);
    params_.host_penalty.emplace(e.gpu_type, 0.0);
  }
  auto error = [&] {
    double sum = 0;
    int n = 0;
    for (const auto& e : fit) {
      const GpuPool pool = pool_for_type(e.gpu_type);
      const auto all = plans(e.job, pool, e.hosts, e.per_host, 0);
      if (all.empty()) continue;
      // Alpa's search finds plans that fit; fall back to the fastest when none fits our model.
      const double pred = all.front().iter_s;
      sum += std::fabs(pred / e.e2e_s - 1.0);
      ++n;
    }
    return n ? sum / n : 0.0;
  };
  // Each knob moves multiplicatively inside physical bounds (a share of a link is at most 1).
  struct Knob {
    double* x;
    double lo, hi;
  };
  std::vector<Knob> knobs;
  for (auto& [type, v] : params_.efficiency)
    for (auto& x : v) knobs.push_back({&x, 0.01, 1.0});
  for (auto& x : params_.half_batch) knobs.push_back({&x, 1e-3, 1e3});
  for (auto& x : params_.stage_microbatches) knobs.push_back({&x, 1.0, 16.0});
  for (auto& x : params_.tp_bytes) knobs.push_back({&x, 0.5, 4.0});
  for (auto* links : {&params_.intra_link, &params_.inter_link})
    for (auto& [type, x] : *links) knobs.push_back({&x, 0.01, 1.0});
  for (auto& [type, x] : params_.host_alpha) knobs.push_back({&x, 1e-6, 0.1});
  for (auto& [type, x] : params_.host_penalty) knobs.push_back({&x, 0.0, 2.0});
  knobs.push_back({&params_.dp_overlap, 0.0, 0.95});
  double best = error();
  const double steps[] = {0.5, 0.7, 0.85, 0.95, 1.05, 1.18, 1.4, 2.0};
  for (int sweep = 0; sweep < 40; ++sweep) {
    bool improved = false;
    for (const Knob& k : knobs) {
      const double orig = *k.x;
      double best_v = orig;
      for (double s : steps) {
        // A knob at 0 restarts from a small value so that it can grow.
        *k.x = std::clamp(orig > 0 ? orig * s : 0.01 * s, k.lo, k.hi);
        const double err = error();
        if (err < best - 1e-6) {
          best = err;
          best_v = *k.x;
          improved = true;
        }
      }
      *k.x = best_v;
    }
    if (!improved) break;
  }
  // 3. Residuals of the calibration entries, averaged in log space per model size x placement
  // and per placement.
  params_.log_residual.clear();
  std::map<std::string, std::pair<double, int>> acc;
  for (const auto& e : fit) {
    const auto all = plans(e.job, pool_for_type(e.gpu_type), e.hosts, e.per_host, 0);
    if (all.empty() || !(all.front().iter_s > 0)) continue;
    const double t = all.front().iter_s;
    for (const auto& key : {residual_key(e.model_key, e.gpu_type, e.hosts, e.per_host),
                            placement_residual_key(e.gpu_type, e.hosts, e.per_host)}) {
      auto& a = acc[key];
      a.first += std::log(e.e2e_s / t);
      a.second++;
    }
  }
  for (const auto& [k, a] : acc) params_.log_residual[k] = a.first / a.second;
}

}  // namespace gearbox::sched
