// The GPU in the plan API: registration, the CUDA-event clock, and the selection (proposal,
// per-class measurement, composite timing).
#include "gearbox/gnn/cuda/device_plan.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <random>

#include "factories.hpp"
#include "gearbox/core/error.hpp"
#include "gearbox/gnn/device_registry.hpp"
#include "handles.hpp"
#include "launch.hpp"

namespace gearbox::gnn::cuda {

namespace {

// Seconds of one run of fn on the current stream, between two CUDA events.
double event_seconds(const std::function<void()>& fn) {
  cudaEvent_t start = nullptr, stop = nullptr;
  detail::check_cuda(cudaEventCreate(&start), "cudaEventCreate");
  detail::check_cuda(cudaEventCreate(&stop), "cudaEventCreate");
  cudaEventRecord(start, detail::current_stream());
  fn();
  cudaEventRecord(stop, detail::current_stream());
  const cudaError_t e = cudaEventSynchronize(stop);
  float ms = 0;
  if (e == cudaSuccess) cudaEventElapsedTime(&ms, start, stop);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  detail::check_cuda(e, "timed run");
  return ms * 1e-3;
}

double timed_ms(const std::function<void()>& fn, int reps) {
  const double ms = median_ms(Device::kCuda, fn, reps);
  synchronize();
  return ms;
}

// The registered DeviceSelector: the measured choice per width, or whole-graph CSR when
// opt.force_csr (--kernels csr).
std::vector<WidthChoice> select_for_plan(const std::shared_ptr<const Csr>& a,
                                         const std::vector<BlockInfo>& blocks,
                                         const std::vector<int>& widths,
                                         const SelectorOptions& opt) {
  std::vector<WidthChoice> out;
  if (opt.force_csr) {
    DeviceSelection s;
    Candidate csr;
    csr.label = "whole csr";
    csr.device = Device::kCuda;
    csr.whole = "csr";
    s.candidates = {csr};
    for (std::size_t i = 0; i < widths.size(); ++i) out.push_back({csr, s.explain()});
    return out;
  }
  static const MachineProfile gpu = gpu_machine_profile();  // measured once per process
  for (const DeviceSelection& s : select_device_plans(a, blocks, widths, opt.reps, gpu))
    out.push_back({s.candidates[s.chosen], s.explain()});
  return out;
}

}  // namespace

void register_cuda() {
  static std::once_flag once;
  std::call_once(once, [] {
    DeviceSupport d;
    d.device = Device::kCuda;
    d.kernels = detail::cuda_kernel_specs();
    d.timer = event_seconds;
    d.select = select_for_plan;
    d.row_order = detail::make_row_order;
    d.set_stream = set_stream;
    d.synchronize = synchronize;
    register_device(std::move(d));
  });
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

std::vector<DeviceSelection> select_device_plans(const std::shared_ptr<const Csr>& shared,
                                                 const std::vector<BlockInfo>& blocks,
                                                 const std::vector<int>& widths, int reps,
                                                 const MachineProfile& gpu) {
  const Csr& a = *shared;
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
    Candidate c;
    c.label = std::string("whole ") + whole;
    c.device = Device::kCuda;
    c.whole = whole;
    const ExecPlan p(shared, blocks, c);
    for (std::size_t w = 0; w < widths.size(); ++w) {
      const int f = widths[w];
      Candidate cw = c;
      cw.predicted_ms =
          find_kernel(whole, Device::kCuda).cost(Subgraph{&a, blocks}, f, gpu).seconds * 1e3;
      cw.measured_ms = timed_ms([&] { p.run(xp, f, yp); }, reps);
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
      for (const KernelSpec* spec : kernels_for(cls, Device::kCuda)) {
        if (spec->name == "cusparse") continue;  // the anchor is never part of our plan
        ks[k].emplace_back(spec->name, spec->make(sg));
      }
    }
    for (std::size_t w = 0; w < widths.size(); ++w) {
      const int f = widths[w];
      Candidate c;
      c.device = Device::kCuda;
      c.thresholds = th;
      c.label = "split " + std::to_string(th.dense_min).substr(0, 4) + "/" +
                std::to_string(th.medium_min).substr(0, 4);
      for (int k = 0; k < kDensityClasses; ++k) {
        const auto cls = static_cast<DensityClass>(k);
        double best = INFINITY;
        for (const auto& [name, kern] : ks[k]) {
          const double t = timed_ms([&] { kern->run(xp, f, yp, true); }, std::max(3, reps / 3));
          if (t < best) {
            best = t;
            c.kernel[k] = name;
          }
        }
        if (!c.kernel[k].empty())
          c.predicted_ms += find_kernel(c.kernel[k], Device::kCuda)
                                .cost(Subgraph{&split.of(cls), split.blocks_of(cls)}, f, gpu)
                                .seconds *
                            1e3;
      }
      // The composite, end to end, in ExecPlan's order (the sparse remainder writes, the
      // block classes accumulate).
      c.measured_ms = timed_ms(
          [&] {
            bool written = false;
            for (const DensityClass cls :
                 {DensityClass::kSparse, DensityClass::kMedium, DensityClass::kDense}) {
              const int k = static_cast<int>(cls);
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
