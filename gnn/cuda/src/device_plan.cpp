// Adaptive kernel sets on the GPU: proposal, per-class measurement, composite timing.
#include "gearbox/gnn/cuda/device_plan.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "gearbox/core/error.hpp"
#include "gearbox/core/stats.hpp"
#include "handles.hpp"

namespace gearbox::gnn::cuda {

nlohmann::json DeviceCandidate::to_json() const {
  nlohmann::json j;
  j["label"] = label;
  if (!whole.empty()) {
    j["whole"] = whole;
  } else {
    j["thresholds"] = {{"dense_min", thresholds.dense_min}, {"medium_min", thresholds.medium_min}};
    for (int c = 0; c < kDensityClasses; ++c)
      j["kernels"][density_class_name(static_cast<DensityClass>(c))] = kernel[c];
  }
  j["predicted_ms"] = predicted_ms;
  j["measured_ms"] = measured_ms ? nlohmann::json(*measured_ms) : nlohmann::json(nullptr);
  return j;
}

const KernelSpec& find_cuda_kernel(const std::string& name) {
  std::string known;
  for (const auto& k : cuda_kernel_registry()) {
    if (k.name == name) return k;
    known += (known.empty() ? "" : ", ") + k.name;
  }
  throw Error::usage("unknown CUDA kernel").field("kernel").expected(known).found(name);
}

DevicePlan::DevicePlan(const Csr& a, const std::vector<BlockInfo>& blocks, const DeviceCandidate& c)
    : cand_(c) {
  if (!c.whole.empty()) {
    whole_ = find_cuda_kernel(c.whole).make(Subgraph{&a, blocks});
    return;
  }
  split_ = split_by_density(a, blocks, c.thresholds);
  for (int k = 0; k < kDensityClasses; ++k) {
    const auto cls = static_cast<DensityClass>(k);
    if (split_.of(cls).nnz() == 0 || c.kernel[k].empty()) continue;
    kernels_[k] =
        find_cuda_kernel(c.kernel[k]).make(Subgraph{&split_.of(cls), split_.blocks_of(cls)});
  }
  // An all-empty split still has to write Y: the sparse part's CSR writes zeros.
  if (!kernels_[0] && !kernels_[1] && !kernels_[2])
    kernels_[2] = find_cuda_kernel("csr").make(Subgraph{&split_.of(DensityClass::kSparse), {}});
}

void DevicePlan::run(const float* x, int f, float* y, const Epilogue& e) const {
  if (whole_) {
    static_cast<const CudaKernel&>(*whole_).run_fused(x, f, y, false, e);
    return;
  }
  int last = -1;
  for (int k = 0; k < kDensityClasses; ++k)
    if (kernels_[k]) last = k;
  bool written = false;
  for (int k = 0; k < kDensityClasses; ++k) {
    if (!kernels_[k]) continue;
    static_cast<const CudaKernel&>(*kernels_[k])
        .run_fused(x, f, y, written, k == last ? e : Epilogue{});
    written = true;
  }
}

std::size_t DevicePlan::format_bytes() const {
  std::size_t b = whole_ ? whole_->format_bytes() : 0;
  for (const auto& k : kernels_)
    if (k) b += k->format_bytes();
  return b;
}

double median_ms(const std::function<void()>& fn, int reps, int warmup) {
  for (int i = 0; i < warmup; ++i) fn();
  detail::check_cuda(cudaDeviceSynchronize(), "warm-up");
  cudaEvent_t start = nullptr, stop = nullptr;
  detail::check_cuda(cudaEventCreate(&start), "cudaEventCreate");
  detail::check_cuda(cudaEventCreate(&stop), "cudaEventCreate");
  std::vector<double> ms;
  for (int i = 0; i < std::max(1, reps); ++i) {
    cudaEventRecord(start);
    fn();
    cudaEventRecord(stop);
    detail::check_cuda(cudaEventSynchronize(stop), "timed run");
    float t = 0;
    cudaEventElapsedTime(&t, start, stop);
    ms.push_back(t);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  synchronize();
  return summarize(ms).median;
}

nlohmann::json DeviceSelection::explain() const {
  nlohmann::json j;
  j["candidates"] = nlohmann::json::array();
  for (const auto& c : candidates) j["candidates"].push_back(c.to_json());
  j["chosen"] = candidates.empty() ? nlohmann::json(nullptr) : candidates[chosen].to_json();
  j["anchor_cusparse_ms"] = anchor_ms ? nlohmann::json(*anchor_ms) : nlohmann::json(nullptr);
  return j;
}

DeviceSelection select_device_plan(const Csr& a, const std::vector<BlockInfo>& blocks, int f,
                                   int reps, const MachineProfile& gpu) {
  DeviceSelection sel;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> xh(static_cast<std::size_t>(a.cols) * f);
  for (auto& v : xh) v = d(rng);
  DeviceBuffer x = to_device(xh), y(sizeof(float) * static_cast<std::size_t>(a.rows) * f);
  const float* xp = x.as<float>();
  float* yp = y.as<float>();

  auto time_plan = [&](DeviceCandidate& c) {
    DevicePlan p(a, blocks, c);
    c.measured_ms = median_ms([&] { p.run(xp, f, yp); }, reps);
  };
  for (const char* whole : {"csr", "cusparse"}) {
    DeviceCandidate c;
    c.label = std::string("whole ") + whole;
    c.whole = whole;
    c.predicted_ms = find_cuda_kernel(whole).cost(Subgraph{&a, blocks}, f, gpu).seconds * 1e3;
    time_plan(c);
    if (c.whole == "cusparse") sel.anchor_ms = c.measured_ms;
    sel.candidates.push_back(c);
  }
  const SplitThresholds proposals[] = {{0.25, 0.05}, {0.10, 0.02}, {0.50, 0.15}};
  for (const SplitThresholds& th : proposals) {
    const DensitySplit split = split_by_density(a, blocks, th);
    DeviceCandidate c;
    c.thresholds = th;
    c.label = "split " + std::to_string(th.dense_min).substr(0, 4) + "/" +
              std::to_string(th.medium_min).substr(0, 4);
    bool any_block_class = false;
    for (int k = 0; k < kDensityClasses; ++k) {
      const auto cls = static_cast<DensityClass>(k);
      if (split.of(cls).nnz() == 0) continue;
      any_block_class |= cls != DensityClass::kSparse;
      const Subgraph sg{&split.of(cls), split.blocks_of(cls)};
      double best = INFINITY;
      for (const KernelSpec& spec : cuda_kernel_registry()) {
        if (spec.name == "cusparse") continue;  // the anchor is never part of our plan
        if (std::find(spec.classes.begin(), spec.classes.end(), cls) == spec.classes.end())
          continue;
        auto kern = spec.make(sg);
        const double t = median_ms([&] { kern->run(xp, f, yp, true); }, std::max(3, reps / 3));
        if (t < best) {
          best = t;
          c.kernel[k] = spec.name;
        }
      }
      c.predicted_ms += find_cuda_kernel(c.kernel[k]).cost(sg, f, gpu).seconds * 1e3;
    }
    if (!any_block_class) continue;  // same as whole csr
    time_plan(c);
    sel.candidates.push_back(c);
  }
  double best = INFINITY;
  for (std::size_t i = 0; i < sel.candidates.size(); ++i) {
    const auto& c = sel.candidates[i];
    if (c.whole == "cusparse" || !c.measured_ms) continue;
    if (*c.measured_ms < best) {
      best = *c.measured_ms;
      sel.chosen = i;
    }
  }
  return sel;
}

}  // namespace gearbox::gnn::cuda
