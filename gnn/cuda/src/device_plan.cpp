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

std::vector<SplitThresholds> proposed_thresholds() {
  // Dense blocks from a quarter full, medium from 5% or 2%; and a proposal that sends blocks
  // from 4% full to the dense-GEMM kernels (blocks of ~500 nodes with ~24 neighbours inside
  // are ~5% full: there the tensor cores may beat gathering, measured).
  return {{0.25, 0.05}, {0.25, 0.02}, {0.04, 0.01}};
}

std::vector<DeviceSelection> select_device_plans(const Csr& a, const std::vector<BlockInfo>& blocks,
                                                 const std::vector<int>& widths, int reps,
                                                 const MachineProfile& gpu) {
  std::vector<DeviceSelection> sel(widths.size());
  int fmax = 1;
  for (int f : widths) fmax = std::max(fmax, f);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> xh(static_cast<std::size_t>(a.cols) * fmax);
  for (auto& v : xh) v = d(rng);
  DeviceBuffer x = to_device(xh), y(sizeof(float) * static_cast<std::size_t>(a.rows) * fmax);
  const float* xp = x.as<float>();
  float* yp = y.as<float>();

  for (const char* whole : {"csr", "csr-narrow", "csr-wholerows", "cusparse"}) {
    DeviceCandidate c;
    c.label = std::string("whole ") + whole;
    c.whole = whole;
    const DevicePlan p(a, blocks, c);
    for (std::size_t w = 0; w < widths.size(); ++w) {
      const int f = widths[w];
      DeviceCandidate cw = c;
      cw.predicted_ms = find_cuda_kernel(whole).cost(Subgraph{&a, blocks}, f, gpu).seconds * 1e3;
      cw.measured_ms = median_ms([&] { p.run(xp, f, yp); }, reps);
      if (cw.whole == "cusparse") sel[w].anchor_ms = cw.measured_ms;
      sel[w].candidates.push_back(cw);
    }
  }
  for (const SplitThresholds& th : proposed_thresholds()) {
    const DensitySplit split = split_by_density(a, blocks, th);
    if (split.of(DensityClass::kDense).nnz() == 0 && split.of(DensityClass::kMedium).nnz() == 0)
      continue;  // the same as the whole-matrix CSR
    // Every kernel that suits a class, prepared once, timed alone at each width.
    std::array<std::vector<std::pair<std::string, std::unique_ptr<Kernel>>>, kDensityClasses> ks;
    for (int k = 0; k < kDensityClasses; ++k) {
      const auto cls = static_cast<DensityClass>(k);
      if (split.of(cls).nnz() == 0) continue;
      const Subgraph sg{&split.of(cls), split.blocks_of(cls)};
      for (const KernelSpec& spec : cuda_kernel_registry()) {
        if (spec.name == "cusparse") continue;  // the anchor is never part of our plan
        if (std::find(spec.classes.begin(), spec.classes.end(), cls) == spec.classes.end())
          continue;
        ks[k].emplace_back(spec.name, spec.make(sg));
      }
    }
    for (std::size_t w = 0; w < widths.size(); ++w) {
      const int f = widths[w];
      DeviceCandidate c;
      c.thresholds = th;
      c.label = "split " + std::to_string(th.dense_min).substr(0, 4) + "/" +
                std::to_string(th.medium_min).substr(0, 4);
      for (int k = 0; k < kDensityClasses; ++k) {
        const auto cls = static_cast<DensityClass>(k);
        double best = INFINITY;
        for (const auto& [name, kern] : ks[k]) {
          const double t = median_ms([&] { kern->run(xp, f, yp, true); }, std::max(3, reps / 3));
          if (t < best) {
            best = t;
            c.kernel[k] = name;
          }
        }
        if (!c.kernel[k].empty())
          c.predicted_ms += find_cuda_kernel(c.kernel[k])
                                .cost(Subgraph{&split.of(cls), split.blocks_of(cls)}, f, gpu)
                                .seconds *
                            1e3;
      }
      // The composite, end to end (first class writes, the others accumulate).
      int last = -1;
      for (int k = 0; k < kDensityClasses; ++k)
        if (!c.kernel[k].empty()) last = k;
      c.measured_ms = median_ms(
          [&] {
            bool written = false;
            for (int k = 0; k <= last; ++k) {
              for (const auto& [name, kern] : ks[k])
                if (name == c.kernel[k]) {
                  kern->run(xp, f, yp, written);
                  written = true;
                }
            }
          },
          reps);
      sel[w].candidates.push_back(c);
    }
  }
  for (DeviceSelection& s : sel) {
    double best = INFINITY;
    for (std::size_t i = 0; i < s.candidates.size(); ++i) {
      const auto& c = s.candidates[i];
      if (c.whole == "cusparse" || !c.measured_ms) continue;
      if (*c.measured_ms < best) {
        best = *c.measured_ms;
        s.chosen = i;
      }
    }
  }
  return sel;
}

}  // namespace gearbox::gnn::cuda
