// AdaptGear's plan for one matrix on one device: the (reordered) matrix with its diagonal
// blocks and, per feature width, the kernel set chosen by measurement on that device (density
// thresholds splitting the blocks into dense / medium / sparse subgraphs, the kernel for each
// class, or one kernel on the whole matrix) with the reason. One interface for every device:
// AdaptiveAggregator selects and runs, ExecPlan runs one kernel set, Candidate names one; the
// kernels come from the one registry keyed by device (kernels.hpp, device_registry.hpp).
//
// The CPU's selection: a cost model (bytes and flops against the measured machine) proposes
// candidate kernel sets; the best-predicted candidates and plain CSR are then measured on the
// first aggregation call, interleaved (every plan once per round, in a new order each round)
// so that interference from other processes hits all alike; a split wins only when its per-round
// ratio to plain CSR is below 0.95 at the median and below 1 at the upper quartile (a tie within
// noise goes to CSR). After warm-up (a number of later calls) a chosen split is measured again
// against plain CSR, interleaved, and replaced by CSR if it is now the slower. The choice is cached
// in cache_dir()/gnn-plans and explained as JSON. Other devices register their own selection
// (cuda::register_cuda(): every class kernel timed alone, the fastest composite chosen).
//
// Ownership: a plan shares ownership of the matrix it was built for (std::shared_ptr<const
// Csr>) and owns its split subgraphs and prepared kernels, so nothing a caller passes in (a
// temporary Csr included) has to outlive it.
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

// One candidate kernel set on one device: a kernel run on the whole matrix, or thresholds
// and the kernel per density class ("" = class empty).
struct Candidate {
  std::string label;
  Device device = Device::kCpu;
  // The kernel run on the whole matrix ("" = the split); CPU: "csr", "csr-nopf" (the same loop
  // without software prefetch) or "".
  std::string whole;
  SplitThresholds thresholds;
  std::array<std::string, kDensityClasses> kernel;
  double predicted_ms = 0;
  std::optional<double> measured_ms;
  // The plain CSR SpMM on the whole matrix (the CPU's fallback).
  bool whole_csr() const { return whole == "csr"; }
  // As `gearbox gnn plan --json` shows it on this candidate's device.
  nlohmann::json to_json() const;
};

// Milliseconds one run of `c` took, given a function doing that run (the test hook; the
// default times run() with a stopwatch).
using CandidateTimer = std::function<double(const Candidate& c, const std::function<void()>& run)>;

struct SelectorOptions {
  Device device = Device::kCpu;  // where the plan runs (x and y live in its memory)
  int max_measured = 4;          // splits measured besides the whole-matrix candidates
  int reps = 7;                  // measured runs per candidate (after one warm-up); median kept
  bool use_cache = true;         // read/write the chosen set in cache_dir()/gnn-plans
  bool force_csr = false;        // --kernels csr: no selection
  // Calls of run() for a width after which a chosen split is re-measured against plain CSR
  // (0: never). Training makes 2-3 calls per width per epoch, so 20 is after ~8 epochs.
  int recheck_after = 20;
  CandidateTimer timer = {};  // empty: wall-clock stopwatch (CPU)
};

// A device's choice for one width: the kernel set and its explanation (candidates measured,
// choice and why), as `gearbox gnn plan --json` shows it for that device.
struct WidthChoice {
  Candidate choice;
  nlohmann::json explain;
};
// The selection a device other than the CPU registers (device_registry.hpp): one choice per
// width of `widths`, in order, measured on the device for `a` split along `blocks`.
using DeviceSelector = std::function<std::vector<WidthChoice>(
    const std::shared_ptr<const Csr>& a, const std::vector<BlockInfo>& blocks,
    const std::vector<int>& widths, const SelectorOptions& opt)>;

// The inverse of a plan's reordering (old_of_new[i]: the caller's id of planned node i), when
// X and Y are given in the caller's node order rather than the planned one.
using CallerOrder = std::shared_ptr<const std::vector<index_t>>;

// X and Y in the caller's node order on a device other than the CPU: X copied into the planned
// order and Y back, in the device's memory, with its own scratch buffers (reused by the next
// run: runs must be ordered on the device). A device registers how it makes one
// (DeviceSupport::row_order, device_registry.hpp).
class DeviceRowOrder {
 public:
  virtual ~DeviceRowOrder() = default;
  // X (n x f, caller order, device memory) in the planned order, in a scratch buffer.
  virtual const float* to_planned(const float* x, int f) = 0;
  // The scratch buffer (n x f) the kernels write Y into, in the planned order.
  virtual float* planned_output(int f) = 0;
  // Y (n x f, caller order, device memory) from planned_output(f).
  virtual void to_caller(int f, float* y) = 0;
};

// An executable plan: Y = A X with one candidate's kernels on the candidate's device (X and Y
// in that device's memory); owns its subgraphs and kernels and shares ownership of A (the
// whole-matrix kernel points into it), so no caller's temporary can leave it dangling. The
// sparse remainder (whose CSR covers every row) writes Y first, the block classes then add
// their rows. With a caller order, X and Y are in the caller's node order (A is
// the planned P A P^T): the kernels read and write through the permutation
// (Kernel::in_caller_order) when every chosen kernel can, else X is copied into the planned
// order and Y back around them (on another device, by its DeviceRowOrder).
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
  mutable std::vector<float> xbuf_, ybuf_;        // the copies when not fused (CPU)
  std::unique_ptr<DeviceRowOrder> device_order_;  // the copies on another device
};

// The plan of one matrix on one device (opt.device): Y = A X, selecting per width on first
// use (the CPU measures with the caller's x; other devices with random inputs).
class AdaptiveAggregator {
 public:
  // `a` is the (reordered) normalised adjacency, `block_starts` its diagonal block bounds.
  // A device other than the CPU must be registered (Error::usage naming it otherwise).
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
  // Whether width f has been selected.
  bool has_plan(int f) const { return plans_.count(f) > 0; }
  // Selects every width not yet planned (a device selection prepares each kernel once for
  // all of them).
  void prepare(const std::vector<int>& widths);
  Device device() const { return opt_.device; }
  // Decomposition, candidates (predicted vs measured), choice and reason, and the re-check
  // (when it ran), per width.
  nlohmann::json explain() const;
  // The chosen kernels per width: on the CPU "dense:dense+sparse:csr"-style names, e.g.
  // {"16": "csr"}; on other devices the chosen candidate's JSON.
  nlohmann::json kernels() const;
  double selection_seconds() const { return selection_s_; }
  const std::vector<BlockInfo>& blocks() const { return blocks_; }
  const Csr& matrix() const { return *a_; }

 private:
  const ExecPlan& select(int f, const float* x);
  // A registered device's selection for the widths not yet planned.
  void select_on_device(const std::vector<int>& widths);
  // Re-measures width f's chosen split against plain CSR; switches to CSR when it is slower.
  void recheck(int f, const float* x);
  // Each plan's run times (ms), measured interleaved: every round runs each plan once, in a
  // new order, each timed run after an untimed run of the same plan (round i of every vector
  // measured in the same round).
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

// The paired-ratio margin a candidate must beat plain CSR by at selection (a tie within noise
// goes to CSR).
inline constexpr double kSelectMargin = 0.95;

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

// `count` values drawn uniformly from [-1, 1) with a fixed seed: the stand-in for a caller's X
// when a selection has none.
std::vector<float> random_features(std::size_t count);

// The candidates the cost model proposes for width f, best predicted first (plain CSR
// included), with predicted_ms filled in.
std::vector<Candidate> propose_candidates(const Csr& a, const std::vector<BlockInfo>& blocks, int f,
                                          const MachineProfile& m);

}  // namespace gearbox::gnn
