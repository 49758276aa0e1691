// Adaptive kernel selection (AdaptGear's selector on the CPU). For a reordered normalised
// adjacency and a feature width, a cost model (bytes and flops against the measured machine)
// proposes candidate kernel sets: density thresholds that split the diagonal blocks into
// dense / medium / sparse subgraphs, and for each subgraph the kernel it predicts fastest.
// The best-predicted candidates and plain CSR are then measured on the first aggregation
// call, interleaved (A B C A B C ...) so that interference from other processes hits all
// alike; a split wins only when its per-round ratio to plain CSR is below 0.95 at the median
// and below 1 at the upper quartile (a tie within noise goes to CSR). After
// warm-up (a number of later calls) a chosen split is measured again against plain CSR,
// interleaved, and replaced by CSR if it is now the slower. The choice is cached in
// cache_dir()/gnn-plans and explained as JSON.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gearbox/core/machine.hpp"
#include "gearbox/gnn/density_split.hpp"
#include "gearbox/gnn/kernels.hpp"

namespace gearbox::gnn {

// One candidate kernel set: thresholds and the kernel per density class ("" = class empty).
// whole_csr: the plain CSR SpMM on the whole matrix (the fallback).
struct Candidate {
  std::string label;
  bool whole_csr = false;
  SplitThresholds thresholds;
  std::array<std::string, kDensityClasses> kernel;
  double predicted_ms = 0;
  std::optional<double> measured_ms;
  nlohmann::json to_json() const;
};

// Milliseconds one run of `c` took, given a function doing that run (the test hook; the
// default times run() with a stopwatch).
using CandidateTimer = std::function<double(const Candidate& c, const std::function<void()>& run)>;

struct SelectorOptions {
  int max_measured = 4;    // candidates measured besides plain CSR
  int reps = 7;            // measured runs per candidate (after one warm-up); median kept
  bool use_cache = true;   // read/write the chosen set in cache_dir()/gnn-plans
  bool force_csr = false;  // --kernels csr: no selection
  // Calls of run() for a width after which a chosen split is re-measured against plain CSR
  // (0: never). Training makes 2-3 calls per width per epoch, so 20 is after ~8 epochs.
  int recheck_after = 20;
  CandidateTimer timer = {};  // empty: wall-clock stopwatch
};

// The inverse of a plan's reordering (old_of_new[i]: the caller's id of planned node i), when
// X and Y are given in the caller's node order rather than the planned one.
using CallerOrder = std::shared_ptr<const std::vector<index_t>>;

// An executable plan: Y = A X with the chosen kernels; owns its subgraphs and kernels and
// shares ownership of A (the whole-matrix kernel points into it), so no caller's temporary
// can leave it dangling. With a caller order, X and Y are in the caller's node order (A is
// the planned P A P^T): the kernels read and write through the permutation
// (Kernel::in_caller_order) when every chosen kernel can, else X is copied into the planned
// order and Y back around them.
class ExecPlan {
 public:
  ExecPlan(std::shared_ptr<const Csr> a, const std::vector<BlockInfo>& blocks, const Candidate& c,
           CallerOrder caller_order = nullptr);
  // Not thread-safe with a caller order its kernels cannot fuse (one set of copy buffers).
  void run(const float* x, int f, float* y) const;
  const Candidate& candidate() const { return cand_; }
  std::size_t format_bytes() const;
  // "planned" (no caller order), "fused" (kernels permute) or "copied" (X and Y copied).
  const char* caller_order_mode() const;

 private:
  void run_kernels(const float* x, int f, float* y) const;

  std::shared_ptr<const Csr> a_;
  Candidate cand_;
  DensitySplit split_;
  std::array<std::unique_ptr<Kernel>, kDensityClasses> kernels_;
  std::unique_ptr<Kernel> whole_;
  CallerOrder order_;
  bool fused_ = false;
  mutable std::vector<float> xbuf_, ybuf_;  // the copies when not fused
};

// Aggregation with an adjacency: Y = A X. The adaptive one selects per width on first use.
class AdaptiveAggregator {
 public:
  // `a` is the (reordered) normalised adjacency, `block_starts` its diagonal block bounds.
  // The aggregator owns `a` (pass std::move(m) to avoid a copy, or share one matrix between
  // aggregators): it and every plan it makes keep it alive; matrix() reads it back.
  AdaptiveAggregator(Csr a, std::vector<index_t> block_starts, SelectorOptions opt, int threads);
  // With caller_order, run() takes X and Y in the caller's node order (see ExecPlan); the
  // selection then measures the candidates as they run in that order.
  AdaptiveAggregator(std::shared_ptr<const Csr> a, std::vector<index_t> block_starts,
                     SelectorOptions opt, int threads, CallerOrder caller_order = nullptr);
  // Y = A X for width f; the first call for a width selects (measuring with this x).
  void run(const float* x, int f, float* y);
  // Selects for width f now (with random inputs) without computing anything for the caller.
  const ExecPlan& plan_for(int f);
  // Decomposition, candidates (predicted vs measured), choice and reason, and the re-check
  // (when it ran), per width.
  nlohmann::json explain() const;
  // "dense+bsr8+csr"-style names of the chosen kernels per width, e.g. {"16": "csr"}.
  nlohmann::json kernels() const;
  double selection_seconds() const { return selection_s_; }
  const std::vector<BlockInfo>& blocks() const { return blocks_; }
  const Csr& matrix() const { return *a_; }

 private:
  const ExecPlan& select(int f, const float* x);
  // Re-measures width f's chosen split against plain CSR; switches to CSR when it is slower.
  void recheck(int f, const float* x);
  // Each plan's run times (ms), measured interleaved (round r runs plans 0, 1, ... in turn).
  std::vector<std::vector<double>> measure_interleaved(const std::vector<const ExecPlan*>& plans,
                                                       const float* x, int f, int reps) const;
  void write_cache(int f, const Candidate& choice, const nlohmann::json& candidates) const;

  std::shared_ptr<const Csr> a_;
  std::vector<index_t> starts_;
  std::vector<BlockInfo> blocks_;
  SelectorOptions opt_;
  int threads_;
  CallerOrder order_;
  MachineProfile machine_;
  std::map<int, std::unique_ptr<ExecPlan>> plans_;
  std::map<int, nlohmann::json> explain_;
  std::map<int, int> calls_;  // run() calls per width since its selection (until re-checked)
  double selection_s_ = 0;
};

// A candidate against plain CSR over the same interleaved rounds: ratios cand/csr per round.
struct PairedComparison {
  double median_ratio = 1, upper_ratio = 1;  // median and upper quartile of the ratios
  double cand_ms = 0, csr_ms = 0;            // medians of the two
  // median_ratio and cand_ms / csr_ms < margin, upper_ratio < 1: clearly faster, not noise
  bool wins = false;
};
// Compares round by round (round i of each vector was measured back to back).
PairedComparison compare_paired(const std::vector<double>& cand_ms,
                                const std::vector<double>& csr_ms, double margin);

// The candidates the cost model proposes for width f, best predicted first (plain CSR
// included), with predicted_ms filled in.
std::vector<Candidate> propose_candidates(const Csr& a, const std::vector<BlockInfo>& blocks, int f,
                                          const MachineProfile& m);

}  // namespace gearbox::gnn
