#include "gearbox/sched/analytical_estimator.hpp"

#include <algorithm>
#include <cmath>

#include "gearbox/sched/constants.hpp"

namespace gearbox::sched {

namespace {

constexpr double kAlpha = 20e-6;  // seconds per collective step (launch + latency)
constexpr double kGB = 1e9;

// Per-sample quantities of a model, from its hyperparameters.
struct Workload {
  double params = 0;
  double fwd_flops = 0;       // forward FLOPs per sample
  double boundary_bytes = 0;  // activation at a layer boundary, per sample
  int layers = 1;
  double elem_bytes = 2;
};

Workload workload(const ModelCatalog& models, ModelRef m) {
  const ModelSize& s = models.size(m);
  const std::string& fam = models.family(m.family).name;
  Workload w;
  w.params = s.params;
  w.elem_bytes = s.fp16 ? 2 : 4;
  w.layers = std::max(1, s.layers);
  const double h = s.hidden, seq = s.seq_len, L = w.layers;
  if (fam == "bert" && h > 0) {
    // 2 FLOPs per weight per token, plus attention scores and context (2 x 2*seq*h per token).
    w.fwd_flops = seq * (2.0 * 12 * L * h * h + 4.0 * L * seq * h + 2.0 * s.vocab * h);
    w.boundary_bytes = seq * h * w.elem_bytes;
  } else if (fam == "moe" && h > 0) {
    // Every layer: attention (4h^2) and top-2 of the experts (2 x 8h^2) active per token.
    w.fwd_flops = seq * (2.0 * 20 * L * h * h + 4.0 * L * seq * h + 2.0 * s.vocab * h);
    w.boundary_bytes = seq * h * w.elem_bytes;
  } else {
    // Wide-ResNet: ~330 forward FLOPs per parameter per 224x224 image (ResNet-50/WRN-50-2).
    const double img = s.image_size > 0 ? s.image_size : 224;
    w.fwd_flops = 330.0 * s.params * (img * img) / (224.0 * 224.0);
    const double ch = std::max(1, s.channels) * std::max(1, s.width_factor);
    w.boundary_bytes = ch * (img / 8) * (img / 8) * w.elem_bytes;
  }
  return w;
}

double intra_bw(const GpuSpec& g) {
  return (g.nvlink_gbs > 0 ? g.nvlink_gbs / 2 : g.pcie_gbs) * kGB;
}
double inter_bw(const GpuSpec& g) {
  return g.network_gbs * kGB;
}

double lookup(const std::map<std::string, double>& m, const std::string& key, double fallback) {
  const auto it = m.find(key);
  return it != m.end() ? it->second : fallback;
}

}  // namespace

AnalyticalEstimator::AnalyticalEstimator(const ModelCatalog& models) : models_(models) {
  const std::size_t nf = models.families().size();
  params_.half_batch.assign(nf, 4.0);
  params_.act_coeff.assign(nf, 1.0);
  params_.stage_microbatches.assign(nf, 4.0);
  params_.tp_bytes.assign(nf, 1.0);
}

PlanEstimate AnalyticalEstimator::evaluate(const JobShape& job, const GpuPool& pool, int hosts,
                                           int per_host, int pp, int dp, int tp) const {
  PlanEstimate e;
  e.pp = pp;
  e.dp = dp;
  e.tp = tp;
  e.iter_s = kInfeasible;
  const int n = hosts * per_host;
  if (pp * dp * tp != n || pp < 1 || dp < 1 || tp < 1 || dp > job.batch) return e;
  const Workload w = workload(models_, job.model);
  if (pp > w.layers) return e;
  const GpuSpec& g = *pool.spec;
  const std::size_t f = static_cast<std::size_t>(job.model.family);
  const auto eff_it = params_.efficiency.find(pool.type);
  const double eta =
      eff_it != params_.efficiency.end() && f < eff_it->second.size() ? eff_it->second[f] : 0.3;
  const double peak = (models_.size(job.model).fp16 ? g.fp16_tflops : g.fp32_tflops) * 1e12;
  if (!(peak > 0)) return e;

  const double per_replica = static_cast<double>(job.batch) / dp;
  const double per_stage = params_.stage_microbatches.at(f);
  const int m = pp > 1 ? static_cast<int>(std::max(1.0, std::min(per_replica, per_stage * pp))) : 1;
  e.microbatches = m;
  const double mb = per_replica / m;       // samples per microbatch
  const double per_gpu_samples = mb / tp;  // work granularity per GPU
  const double half = params_.half_batch.at(f);
  const double eff = eta * per_gpu_samples / (per_gpu_samples + half);
  const int stage_layers = (w.layers + pp - 1) / pp;
  const double imbalance = static_cast<double>(stage_layers) * pp / w.layers;
  const double flops = 4.0 * w.fwd_flops * job.batch;  // fwd + bwd (2x) + recompute (1x)
  e.compute_s = flops / n * imbalance / (peak * eff);
  e.bubble_s = e.compute_s * (pp - 1) / m;

  // A collective inside a node runs over NVLink/PCIe; one that spans nodes over the network,
  // with a per-step latency of its own. Achieved shares and latency are calibrated per type.
  const double intra = intra_bw(g) * lookup(params_.intra_link, pool.type, 0.7);
  const double inter = inter_bw(g) * lookup(params_.inter_link, pool.type, 0.7);
  const double alpha_net = lookup(params_.host_alpha, pool.type, kAlpha);
  const bool tp_net = tp > per_host, dp_net = tp * dp > per_host, pp_net = hosts > 1;
  if (tp > 1) {
    const double bytes = mb * w.boundary_bytes * params_.tp_bytes.at(f);
    const double bw = tp_net ? inter : intra, a = tp_net ? alpha_net : kAlpha;
    e.tp_comm_s = stage_layers * m * 4.0 * (a + 2.0 * (tp - 1) / tp * bytes / bw);
  }
  if (dp > 1) {
    const double grad_bytes = w.params * w.elem_bytes / (pp * tp);
    const double bw = dp_net ? inter : intra, a = dp_net ? alpha_net : kAlpha;
    e.dp_comm_s =
        (1.0 - params_.dp_overlap) * (2.0 * (dp - 1) * a + 2.0 * (dp - 1) / dp * grad_bytes / bw);
  }
  if (pp > 1) {
    const double bytes = mb * w.boundary_bytes / tp;
    const double bw = pp_net ? inter : intra, a = pp_net ? alpha_net : kAlpha;
    e.pp_comm_s = 2.0 * (m + pp - 2) * (a + bytes / bw);
  }
  e.iter_s = e.compute_s + e.bubble_s + e.tp_comm_s + e.dp_comm_s + e.pp_comm_s;
  e.iter_s *= 1.0 + lookup(params_.host_penalty, pool.type, 0.0) * std::log2(hosts);

  // Memory per GPU: replicated weights (+fp32 master / grads), DP-sharded optimizer state,
  // recomputed activations at layer boundaries for the replica's samples, 1 GB workspace.
  const double rep_bytes = models_.size(job.model).fp16 ? 6.0 : 12.0;
  const double model_part = w.params / (pp * tp);
  const double act = params_.act_coeff.at(f) * per_replica * w.boundary_bytes * stage_layers / tp;
  e.mem_gb = (model_part * rep_bytes + model_part * 8.0 / dp + act) / kGB + 1.0;
  e.fits = e.mem_gb * kDpMemMargin <= g.memory_gb * kXlaMemFraction;
  return e;
}

std::vector<PlanEstimate> AnalyticalEstimator::plans(const JobShape& job, const GpuPool& pool,
                                                     int hosts, int per_host, int pp) const {
  std::vector<PlanEstimate> out;
  const int n = hosts * per_host;
  for (int p = 1; p <= n; p *= 2) {
    if (pp > 0 && p != pp) continue;
    if (n % p) continue;
    for (int t = 1; t * p <= n; t *= 2) {
      if ((n / p) % t) continue;
      const PlanEstimate e = evaluate(job, pool, hosts, per_host, p, n / p / t, t);
      if (std::isfinite(e.iter_s)) out.push_back(e);
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const PlanEstimate& a, const PlanEstimate& b) {
    if (a.fits != b.fits) return a.fits;
    return a.iter_s < b.iter_s;
  });
  return out;
}

std::optional<PlanEstimate> AnalyticalEstimator::best_plan(const JobShape& job, const GpuPool& pool,
                                                           int hosts, int per_host, int pp) const {
  const auto all = plans(job, pool, hosts, per_host, pp);
  if (all.empty() || !all.front().fits) return std::nullopt;
  return all.front();
}

double AnalyticalEstimator::model_iter_time(const JobShape& job, const GpuPool& pool, int hosts,
                                            int per_host) const {
  const auto b = best_plan(job, pool, hosts, per_host);
  return b ? b->iter_s : kInfeasible;
}

double AnalyticalEstimator::residual_factor(const JobShape& job, const std::string& gpu_type,
                                            int hosts, int per_host, int* level) const {
  if (level) *level = 0;
  if (!params_.use_residuals || params_.log_residual.empty()) return 1.0;
  const auto& r = params_.log_residual;
  auto it =
      r.find(residual_key(models_.profile_key(job.model, job.batch), gpu_type, hosts, per_host));
  if (it != r.end()) {
    if (level) *level = 2;
    return std::exp(it->second);
  }
  it = r.find(placement_residual_key(gpu_type, hosts, per_host));
  if (it != r.end()) {
    if (level) *level = 1;
    return std::exp(it->second);
  }
  return 1.0;
}

double AnalyticalEstimator::best_iter_time(const JobShape& job, const GpuPool& pool, int hosts,
                                           int per_host) const {
  const double t = model_iter_time(job, pool, hosts, per_host) *
                   residual_factor(job, pool.type, hosts, per_host);
  return t > kMaxValidIterTime ? kInfeasible : t;
}

double AnalyticalEstimator::dp_iter_time(const JobShape& job, const GpuPool& pool, int hosts,
                                         int per_host, bool oom_gate) const {
  const int n = hosts * per_host;
  const PlanEstimate e = evaluate(job, pool, hosts, per_host, 1, n, 1);
  if (!std::isfinite(e.iter_s) || (oom_gate && !e.fits) || e.iter_s > kMaxValidIterTime) {
    return kInfeasible;
  }
  return e.iter_s;
}

ParallelPlan AnalyticalEstimator::best_parallel_plan(const JobShape& job, const GpuPool& pool,
                                                     int hosts, int per_host) const {
  const auto best = best_plan(job, pool, hosts, per_host);
  if (!best) return Estimator::best_parallel_plan(job, pool, hosts, per_host);
  return {best->pp, best->dp, best->tp};
}

std::string residual_key(const std::string& model_key, const std::string& gpu_type, int hosts,
                         int per_host) {
  // The model size without the batch: "bert_1.3B_256" -> "bert_1.3B".
  const auto b = model_key.rfind('_');
  return (b == std::string::npos ? model_key : model_key.substr(0, b)) + "/" +
         placement_key(gpu_type, hosts, per_host);
}

std::string placement_residual_key(const std::string& gpu_type, int hosts, int per_host) {
  return "*/" + placement_key(gpu_type, hosts, per_host);
}

}  // namespace gearbox::sched
