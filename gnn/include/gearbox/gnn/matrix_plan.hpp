// AdaptGear's plan for any square sparse matrix given in the caller's node order (what a
// PyTorch user hands over: an adjacency with its own edge values): reorders the nodes by the
// matrix's symmetrised pattern, selects the density split and kernels per feature width
// (AdaptiveAggregator), and runs Y = A X or Y = A^T X with X and Y in the caller's order
// (the kernels read X rows and write Y rows through the permutation, so no permuted copy is
// made per call; see ExecPlan). Writing Y through the permutation scatters each thread's rows
// among the other thread's (measured 1.25-1.5x slower than plain CSR on Cora-sized graphs,
// where the reordering gains little), so per width and direction the reordered plan is
// measured against plain CSR on the matrix as given, on the CPU, and kept only when it is
// clearly faster (the selector's margin); else plain CSR runs on the caller's matrix. The
// choice is measured once more on the caller's inputs after the selector's recheck_after
// calls (as a chosen split is). The plan
// owns the matrix as given, its reordered copy and, once needed, the transpose's plan.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "gearbox/gnn/plan.hpp"
#include "gearbox/gnn/reorder.hpp"

namespace gearbox::gnn {

struct MatrixPlanOptions {
  std::string name = "adj";  // how explain() names the graph
  ReorderMethod reorder = ReorderMethod::kLabelProp;
  int max_block = 64;  // largest diagonal block (nodes), as `gearbox gnn plan --block`
  std::uint64_t seed = 0;
  int threads = 1;  // threads the kernels run with (selection, cache key)
  SelectorOptions selector;
};

class MatrixPlan {
 public:
  // Plans A (square, duplicate-free CSR, taken over) and selects kernels for `feature_width`
  // now. Error::input when A is not square.
  MatrixPlan(Csr a, int feature_width, MatrixPlanOptions opt);

  // Y = A X (transpose: Y = A^T X) for X, Y: nodes() x f, row-major, in the caller's order,
  // in the memory of the plan's device (opt.selector.device). The first call for a new width
  // (or the first transposed call of a non-symmetric A) selects kernels for it (on a device:
  // on its default stream, finished before returning). On a device the run is queued on
  // `stream` (e.g. a cudaStream_t; null: the default stream) and may still be running on
  // return; a run on another stream than the previous run's first waits for the device (the
  // plan's scratch buffers are reused). Thread-safe (calls are serialised).
  void run(const float* x, int f, float* y, bool transpose, void* stream = nullptr);

  // The `gearbox gnn plan --json` document for width f (f = 0: the planned width), with
  // "caller_order" ("fused", "copied", or "given": plain CSR on the matrix as given) and, on
  // the CPU when the ordering moved nodes, "caller_order_measured" (the two medians, the paired
  // ratio and the rounds).
  nlohmann::json document(int f = 0);
  // Its text, as `gearbox gnn plan` prints it.
  std::string text(int f = 0);

  // Median ms of `reps` calls of run(f, transpose = false) from C++ on fixed inputs (X and Y in
  // the caller's order, kernels as selected), the cost a caller's wrapper is compared to.
  // CPU plans only (Error::usage otherwise).
  double kernel_ms(int f, int reps);

  index_t nodes() const { return n_; }
  offset_t nnz() const { return nnz_; }
  int feature_width() const { return width_; }
  bool symmetric() const { return symmetric_; }
  Device device() const { return opt_.selector.device; }
  // Chosen kernels per width ({"forward": .., "transpose": ..} once the transpose is planned);
  // "csr-given" where plain CSR on the matrix as given was chosen ("csr-nopf-given": the same
  // without software prefetch, measured clearly faster).
  nlohmann::json kernels() const;

 private:
  // How one direction runs at one width: the reordered plan, or plain CSR on the matrix as
  // given (`why`: the measurement, with the first one under "first" once re-checked; null when
  // there was nothing to choose).
  struct OrderChoice {
    bool given = false;
    bool given_nopf = false;  // CSR as given without software prefetch ("csr-nopf-given")
    nlohmann::json why;
    int calls = 0;           // run() calls since the choice, until re-checked
    bool rechecked = false;  // measured again after opt.selector.recheck_after calls
  };
  AdaptiveAggregator& aggregator(bool transpose);
  // The caller's matrix as given (or its transpose, made once needed).
  const Csr& given(bool transpose);
  // The choice for (transpose, f), measured (measure_order) on first use with x and y when
  // given (else with random inputs). Only on the CPU, when the ordering moved nodes and CSR is
  // not forced; else the reordered plan, unmeasured.
  OrderChoice& order_choice(bool transpose, int f, const float* x, float* y);
  // Interleaved rounds of the reordered plan and plain CSR on the matrix as given (from
  // F > kCsrNoPrefetchMaxWidth also CSR as given without prefetch, "given_kernel" "csr-nopf"
  // when clearly faster than with): "choice" is "reordered" only when it is clearly faster
  // than the chosen CSR as given (compare_paired with kSelectMargin), with both medians, the
  // paired ratio and the rounds.
  nlohmann::json measure_order(bool transpose, int f, const float* x, float* y);
  // Y = A X (or A^T X) on the CPU as chosen.
  void run_cpu(bool transpose, const float* x, int f, float* y);

  MatrixPlanOptions opt_;
  index_t n_ = 0;
  offset_t nnz_ = 0;
  int width_ = 0;
  bool symmetric_ = false;
  bool identity_ = true;  // the ordering keeps every node in place
  Ordering order_;
  std::shared_ptr<const Csr> planned_;  // P A P^T (the transpose's plan is built from it)
  // A as given and A^T once needed (null when the ordering keeps every node in place).
  std::shared_ptr<const Csr> given_, given_t_;
  std::map<std::pair<bool, int>, OrderChoice> order_choice_;  // per (transposed plan, width)
  CallerOrder caller_;  // old_of_new of the ordering (null when it keeps every node in place)
  std::unique_ptr<AdaptiveAggregator> fwd_, bwd_;
  void* last_stream_ = nullptr;  // the device stream of the previous run
  mutable std::mutex mu_;
};

}  // namespace gearbox::gnn
