// Adaptive kernel sets on the GPU: a candidate names density thresholds and, per density
// class, the CUDA kernel that runs it (or the whole matrix through one kernel). The selector
// proposes threshold pairs, measures every kernel that suits each class alone (CUDA events,
// median of short runs), keeps the fastest per class, then times each composite and the
// whole-graph CSR; the fastest of our kernel sets wins. The cuSPARSE anchor is measured and
// reported beside them but never chosen. Predictions (the specs' cost models against the
// GPU profile) are reported next to the measurements.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gearbox/gnn/cuda/cuda_kernels.hpp"
#include "gearbox/gnn/density_split.hpp"

namespace gearbox::gnn::cuda {

struct DeviceCandidate {
  std::string label;
  std::string whole;  // kernel run on the whole matrix ("" = use the split)
  SplitThresholds thresholds;
  std::array<std::string, kDensityClasses> kernel;  // per class ("" = class empty)
  double predicted_ms = 0;
  std::optional<double> measured_ms;
  nlohmann::json to_json() const;
};

// Y = A X (then the epilogue) with one candidate's kernels; x, y are device pointers.
class DevicePlan {
 public:
  DevicePlan(const Csr& a, const std::vector<BlockInfo>& blocks, const DeviceCandidate& c);
  void run(const float* x, int f, float* y, const Epilogue& e = {}) const;
  std::size_t format_bytes() const;
  const DeviceCandidate& candidate() const { return cand_; }

 private:
  DeviceCandidate cand_;
  DensitySplit split_;
  std::array<std::unique_ptr<Kernel>, kDensityClasses> kernels_;
  std::unique_ptr<Kernel> whole_;
};

// Median milliseconds of `reps` runs of fn (after `warmup` runs), each timed with CUDA events
// on the default stream.
double median_ms(const std::function<void()>& fn, int reps, int warmup = 3);

struct DeviceSelection {
  std::vector<DeviceCandidate> candidates;  // measured, ours and the anchor
  std::size_t chosen = 0;                   // index of the fastest of ours
  std::optional<double> anchor_ms;          // cusparse on the whole matrix
  nlohmann::json explain() const;
};

// Selects for each width in `widths` on this device (one selection per width, in order),
// timing with device buffers of random inputs. Each proposal's kernels are prepared once and
// timed at every width.
std::vector<DeviceSelection> select_device_plans(const Csr& a, const std::vector<BlockInfo>& blocks,
                                                 const std::vector<int>& widths, int reps,
                                                 const MachineProfile& gpu);

// The threshold pairs the selector proposes (besides the whole-matrix kernels).
std::vector<SplitThresholds> proposed_thresholds();

// The spec named `name` in cuda_kernel_registry(); Error::usage when unknown.
const KernelSpec& find_cuda_kernel(const std::string& name);

}  // namespace gearbox::gnn::cuda
