// Our own cost model of one training iteration for a plan (pp stages, dp replicas, tp-way
// tensor parallelism) on hosts x per_host GPUs: compute from FLOPs (4x forward: backward plus
// full activation recomputation) over the GPU's peak times a calibrated efficiency per
// (GPU type, model family) that falls for small per-GPU microbatches; alpha-beta collectives
// over NVLink/PCIe inside a node and the network across nodes (TP all-reduces per layer, DP
// gradient all-reduce, pipeline sends); the pipeline bubble (pp-1)/m and stage imbalance; and a
// memory model (replicated weights, DP-sharded optimizer state, recomputed activations) whose
// activation coefficient is fitted to the artifact's dp_mem table.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gearbox/sched/estimator.hpp"
#include "gearbox/sched/profile_db.hpp"

namespace gearbox::sched {

struct PlanEstimate {
  int pp = 1, dp = 1, tp = 1;
  int microbatches = 1;
  double compute_s = 0, bubble_s = 0, tp_comm_s = 0, dp_comm_s = 0, pp_comm_s = 0;
  double iter_s = 0;
  double mem_gb = 0;  // per GPU
  bool fits = false;  // mem_gb * 1.2 <= 0.8 * GPU memory (the artifact's margin)
};

enum class CalibrationSplit {
  kAll,   // calibrate on every optimal entry
  kEven,  // on the even-indexed entries (sorted by model key, placement key); check on the odd
};

struct AnalyticalParams {
  std::map<std::string, std::vector<double>> efficiency;  // [gpu type][family]: share of peak
  std::vector<double> half_batch;            // per family: samples/GPU at which efficiency halves
  std::vector<double> act_coeff;             // per family: activation memory multiplier
  std::vector<double> stage_microbatches;    // per family: pipeline microbatches per stage
  std::vector<double> tp_bytes;              // per family: TP traffic per boundary activation
  std::map<std::string, double> intra_link;  // [gpu type]: achieved share of NVLink/PCIe
  std::map<std::string, double> inter_link;  // [gpu type]: achieved share of the network
  std::map<std::string, double> host_alpha;  // [gpu type]: s per cross-node collective step
  // [gpu type]: relative slowdown per doubling of the node count (cross-node effects the
  // closed form misses: stragglers, contention, the plan search's weaker multi-node plans)
  std::map<std::string, double> host_penalty;
  double dp_overlap = 0.5;  // fraction of the DP all-reduce hidden
  // Profiled residuals, Crius-style: mean log(measured / modelled) of the calibration entries
  // of the same model size on the same placement (another batch size), keyed residual_key(),
  // and, where none, of every model on that placement, keyed placement_residual_key();
  // applied by best_iter_time() when `use_residuals`.
  std::map<std::string, double> log_residual;
  bool use_residuals = true;
};

class AnalyticalEstimator : public Estimator {
 public:
  explicit AnalyticalEstimator(const ModelCatalog& models);
  std::string name() const override { return "analytical"; }
  double best_iter_time(const JobShape& job, const GpuPool& pool, int hosts,
                        int per_host) const override;
  double dp_iter_time(const JobShape& job, const GpuPool& pool, int hosts, int per_host,
                      bool oom_gate) const override;
  // best_plan()'s degrees.
  ParallelPlan best_parallel_plan(const JobShape& job, const GpuPool& pool, int hosts,
                                  int per_host) const override;

  // Prices one plan; pp*dp*tp must equal hosts*per_host (else iter_s = kInfeasible).
  PlanEstimate evaluate(const JobShape& job, const GpuPool& pool, int hosts, int per_host, int pp,
                        int dp, int tp) const;
  // Every power-of-two (dp, tp) for `pp` stages (all pp when pp <= 0), best (fitting) first.
  std::vector<PlanEstimate> plans(const JobShape& job, const GpuPool& pool, int hosts, int per_host,
                                  int pp) const;
  // The fastest plan that fits in memory, if any (`pp` <= 0: any stage count).
  std::optional<PlanEstimate> best_plan(const JobShape& job, const GpuPool& pool, int hosts,
                                        int per_host, int pp = 0) const;

  // The best plan's modelled time (no residual correction); kInfeasible when nothing fits.
  double model_iter_time(const JobShape& job, const GpuPool& pool, int hosts, int per_host) const;
  // The residual correction factor for `job` on the placement (1 when none was profiled) and
  // which level it came from (0 none, 1 the placement, 2 the model size on the placement).
  double residual_factor(const JobShape& job, const std::string& gpu_type, int hosts, int per_host,
                         int* level = nullptr) const;

  // Fits the efficiencies, comm efficiency and DP overlap to the optimal table (the entries
  // chosen by `split`), the activation coefficients to dp_mem, then records the residuals of
  // the same entries.
  void calibrate(const ProfileDb& db, CalibrationSplit split);
  const AnalyticalParams& params() const { return params_; }
  AnalyticalParams& params() { return params_; }

 private:
  const ModelCatalog& models_;
  AnalyticalParams params_;
};

// One optimal-table entry decoded: the job, the placement and the measured iteration time.
struct ProfileEntry {
  JobShape job;
  std::string gpu_type;
  int hosts = 0, per_host = 0;
  double e2e_s = 0;
  std::string model_key, placement_key;
};

// Decodes the optimal table into entries (sorted by model key, placement key), skipping keys
// whose model or GPU type is unknown.
std::vector<ProfileEntry> optimal_entries(const ProfileDb& db, const ModelCatalog& models);

// The key of a profiled residual: model size (the profile key without its batch) and placement.
std::string residual_key(const std::string& model_key, const std::string& gpu_type, int hosts,
                         int per_host);
// The key of a placement's residual over every model: "*/" + the placement key.
std::string placement_residual_key(const std::string& gpu_type, int hosts, int per_host);

// A GpuPool for an artifact GPU type (catalog spec, artifact node capacity), for pricing.
GpuPool pool_for_type(const std::string& gpu_type);

}  // namespace gearbox::sched
