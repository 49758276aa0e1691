// The GPU in the gnn engine's one plan API (plan.hpp): register_cuda() adds the CUDA kernels
// to the kernel registry (Device::kCuda), the CUDA-event clock to median_ms, and the GPU's
// selection below; AdaptiveAggregator and ExecPlan then plan and run on the GPU
// (SelectorOptions::device = Device::kCuda, x and y device pointers).
//
// The GPU's selection: a candidate names density thresholds and, per density class, the CUDA
// kernel that runs it (or the whole matrix through one kernel). The selector proposes
// threshold pairs, measures every kernel that suits each class alone (CUDA events, median of
// short runs), keeps the fastest per class, then times each composite and the whole-graph
// kernels; the fastest of our kernel sets wins. The cuSPARSE anchor is measured and reported
// beside them but never chosen. Predictions (the specs' cost models against the GPU profile)
// are reported next to the measurements.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "gearbox/gnn/cuda/cuda_kernels.hpp"
#include "gearbox/gnn/density_split.hpp"
#include "gearbox/gnn/plan.hpp"

namespace gearbox::gnn::cuda {

// Registers the GPU with the gnn engine (kernels, clock, selection); idempotent.
void register_cuda();

// One width's measurements on the GPU (candidates have device kCuda).
struct DeviceSelection {
  std::vector<Candidate> candidates;  // measured, ours and the anchor
  std::size_t chosen = 0;             // index of the fastest of ours
  std::optional<double> anchor_ms;    // cusparse on the whole matrix
  // {"candidates", "chosen", "anchor_cusparse_ms"}: the explanation a GPU plan gives per width.
  nlohmann::json explain() const;
};

// The GPU's selection (what register_cuda() registers as its DeviceSelector, public so that
// tests can run every measured set): one selection per width in `widths`, in order, timing
// with device buffers of random inputs. Each proposal's kernels are prepared once and timed
// at every width.
std::vector<DeviceSelection> select_device_plans(const std::shared_ptr<const Csr>& a,
                                                 const std::vector<BlockInfo>& blocks,
                                                 const std::vector<int>& widths, int reps,
                                                 const MachineProfile& gpu);

// The threshold pairs the selector proposes (besides the whole-matrix kernels).
std::vector<SplitThresholds> proposed_thresholds();

}  // namespace gearbox::gnn::cuda
