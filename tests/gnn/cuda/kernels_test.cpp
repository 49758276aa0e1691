// Every CUDA kernel against the float64 reference on random graphs of awkward shapes, with
// the output poisoned (NaN) before each run so that an unwritten element fails, and the
// relative error ||y - ref|| / ||ref|| held to the kernel's precision (fp32 1e-5, tf32 1e-3,
// bf16 1e-2). Skipped with a visible line on machines without a CUDA device.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <string>

#include "gearbox/core/cuda.hpp"
#include "gearbox/core/error.hpp"
#include "gearbox/gnn/cuda/cuda_kernels.hpp"
#include "gearbox/gnn/cuda/device_plan.hpp"
#include "gearbox/gnn/density_split.hpp"
#include "gearbox/gnn/matrix_plan.hpp"
#include "gearbox/gnn/plan.hpp"
#include "graphs.hpp"

using namespace gearbox::gnn;
using namespace gearbox::gnn::cuda;
using gearbox::gnn::test::awkward_graph;
using gearbox::gnn::test::random_floats;
using gearbox::gnn::test::random_starts;
using gearbox::gnn::test::spmm_double;

namespace {

#define SKIP_WITHOUT_DEVICE() \
  if (gearbox::cuda_devices().empty()) GTEST_SKIP() << "skipped: no CUDA device"

// Runs run(x, y) on a device copy of x and a NaN-poisoned y of `out` floats; returns y.
std::vector<float> run_poisoned(const std::function<void(const float*, float*)>& run,
                                const std::vector<float>& x, std::size_t out) {
  DeviceBuffer dx = to_device(x), dy(out * sizeof(float));
  dy.fill_bytes(0xff);
  run(dx.as<float>(), dy.as<float>());
  synchronize();
  std::vector<float> got(out);
  dy.download(got.data(), got.size() * sizeof(float));
  return got;
}

// The CUDA kernels in the one kernel registry (registering the GPU first).
std::vector<KernelSpec> cuda_specs() {
  register_cuda();
  std::vector<KernelSpec> out;
  for (const KernelSpec& k : kernel_registry())
    if (k.device == Device::kCuda) out.push_back(k);
  return out;
}

// Runs `k` on device copies of x and y0 (poisoned with NaN when not accumulating), returns y.
std::vector<float> run_on_device(const CudaKernel& k, const std::vector<float>& x, int f,
                                 const std::vector<float>& y0, bool acc, const Epilogue& e) {
  DeviceBuffer dx = to_device(x);
  DeviceBuffer dy(y0.size() * sizeof(float));
  if (acc)
    dy.upload(y0.data(), y0.size() * sizeof(float));
  else
    dy.fill_bytes(0xff);  // 0xffffffff is a NaN
  k.run_fused(dx.as<float>(), f, dy.as<float>(), acc, e);
  synchronize();
  std::vector<float> y(y0.size());
  dy.download(y.data(), y.size() * sizeof(float));
  return y;
}

// ||got - want|| / ||want|| (and every element finite), or +inf.
double relative_error(const std::vector<float>& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

void apply_reference_epilogue(std::vector<double>& y, int f, const std::vector<float>& bias,
                              bool relu) {
  for (std::size_t i = 0; i < y.size(); ++i) {
    double v = y[i] + (bias.empty() ? 0.0 : bias[i % f]);
    y[i] = relu && v < 0 ? 0.0 : v;
  }
}

}  // namespace

TEST(CudaKernels, RegistryHasOneKernelPerClassAndTheAnchor) {
  const auto& reg = cuda_specs();
  for (DensityClass c : {DensityClass::kDense, DensityClass::kMedium, DensityClass::kSparse}) {
    int n = 0;
    for (const auto& k : reg) {
      EXPECT_EQ(k.device, Device::kCuda);
      for (DensityClass kc : k.classes) n += kc == c;
    }
    EXPECT_GE(n, 2) << density_class_name(c);
  }
  int anchors = 0;
  for (const auto& k : reg) anchors += k.name == "cusparse";
  EXPECT_EQ(anchors, 1);
  // One registry keyed by device: the CPU's kernels stay beside them, found by device.
  EXPECT_EQ(find_kernel("csr", Device::kCuda).device, Device::kCuda);
  EXPECT_EQ(find_kernel("csr", Device::kCpu).device, Device::kCpu);
  EXPECT_FALSE(kernels_for(DensityClass::kSparse, Device::kCpu).empty());
  EXPECT_THROW(find_kernel("cusparse", Device::kCpu), gearbox::Error);
}

TEST(CudaKernels, EveryKernelMatchesFloat64ReferenceOnAwkwardGraphs) {
  SKIP_WITHOUT_DEVICE();
  std::mt19937 rng(42);
  int checked = 0;
  // Printed at the end: the worst measured error of each kernel beside its bound.
  std::map<std::string, std::pair<double, double>> max_err;
  for (index_t n : {1, 9, 37, 300, 1500}) {
    for (bool huge : {false, true}) {
      const Csr a = awkward_graph(n, n, 0.01, huge, rng);
      const auto blocks = diagonal_blocks(a, random_starts(n, 40, rng));
      const DensitySplit split = split_by_density(a, blocks, {0.3, 0.08});
      for (int f : {1, 3, 16, 17, 32, 64, 129, 512}) {
        const auto x = random_floats(static_cast<std::size_t>(n) * f, rng);
        const auto y0 = random_floats(static_cast<std::size_t>(n) * f, rng);
        for (int c = 0; c < kDensityClasses; ++c) {
          const auto cls = static_cast<DensityClass>(c);
          Subgraph sg{&split.of(cls), split.blocks_of(cls)};
          for (const KernelSpec& spec : cuda_specs()) {
            if (std::find(spec.classes.begin(), spec.classes.end(), cls) == spec.classes.end())
              continue;
            auto base = spec.make(sg);
            const auto& k = dynamic_cast<const CudaKernel&>(*base);
            for (bool acc : {false, true}) {
              std::vector<double> want(y0.begin(), y0.end());
              spmm_double(*sg.a, x, f, want, acc);
              const auto got = run_on_device(k, x, f, y0, acc, {});
              const double err = relative_error(got, want);
              auto& [worst, bound] = max_err[spec.name];
              worst = std::max(worst, err);
              bound = k.error_bound();
              EXPECT_LE(err, k.error_bound())
                  << spec.name << " class=" << density_class_name(cls) << " n=" << n << " f=" << f
                  << " acc=" << acc << " huge=" << huge;
              ++checked;
            }
          }
        }
      }
    }
  }
  for (const auto& [name, e] : max_err)
    std::printf("max relative error %-12s %.3g (bound %.0e)\n", name.c_str(), e.first, e.second);
  EXPECT_GT(checked, 500);
}

TEST(CudaKernels, WholeGraphWithLongRowsAndFusedEpilogue) {
  SKIP_WITHOUT_DEVICE();
  std::mt19937 rng(7);
  // 3000 rows, one touching all 3000 columns: the CSR kernel splits it into segments.
  const Csr a = awkward_graph(3000, 3000, 0.004, true, rng);
  const std::vector<BlockInfo> one_block = diagonal_blocks(a, {0, 3000});
  for (int f : {5, 32, 128}) {
    const auto x = random_floats(3000u * f, rng);
    const auto y0 = random_floats(3000u * f, rng);
    const auto bias_h = random_floats(static_cast<std::size_t>(f), rng);
    DeviceBuffer bias = to_device(bias_h);
    for (const KernelSpec& spec : cuda_specs()) {
      auto base = spec.make(Subgraph{&a, spec.needs_blocks ? one_block : std::vector<BlockInfo>{}});
      const auto& k = dynamic_cast<const CudaKernel&>(*base);
      for (bool acc : {false, true})
        for (bool relu : {false, true}) {
          std::vector<double> want(y0.begin(), y0.end());
          spmm_double(a, x, f, want, acc);
          apply_reference_epilogue(want, f, bias_h, relu);
          const auto got = run_on_device(k, x, f, y0, acc, Epilogue{bias.as<float>(), relu});
          EXPECT_LE(relative_error(got, want), k.error_bound())
              << spec.name << " f=" << f << " acc=" << acc << " relu=" << relu;
        }
    }
  }
}

TEST(CudaKernels, ManyShortRowsWalkedSeveralPerGroup) {
  SKIP_WITHOUT_DEVICE();
  Coo coo;
  coo.rows = coo.cols = 300001;
  std::mt19937 rng(9);
  for (index_t i = 0; i < coo.rows; ++i)
    if (i % 3 != 0) {
      coo.row.push_back(i);
      coo.col.push_back(static_cast<index_t>(rng() % coo.cols));
      coo.val.push_back(0.5f);
    }
  const Csr a = coo_to_csr(coo);
  for (int f : {4, 16}) {
    const auto x = random_floats(static_cast<std::size_t>(a.rows) * f, rng);
    std::vector<double> want(static_cast<std::size_t>(a.rows) * f);
    spmm_double(a, x, f, want, false);
    for (const char* name : {"csr", "cusparse"}) {
      for (const KernelSpec& spec : cuda_specs())
        if (spec.name == name) {
          auto base = spec.make(Subgraph{&a, {}});
          const auto& k = dynamic_cast<const CudaKernel&>(*base);
          const auto got = run_on_device(k, x, f, std::vector<float>(want.size()), false, {});
          EXPECT_LE(relative_error(got, want), k.error_bound()) << name << " f=" << f;
        }
    }
  }
}

TEST(CudaKernels, MisalignedPointersFallBackToScalarLoads) {
  SKIP_WITHOUT_DEVICE();
  std::mt19937 rng(13);
  const Csr a = awkward_graph(200, 200, 0.02, false, rng);
  const int f = 32;
  const auto x = random_floats(200u * f + 1, rng);
  std::vector<double> want(200u * f);
  spmm_double(a, std::vector<float>(x.begin() + 1, x.end()), f, want, false);
  auto base = cuda_specs().front().make(Subgraph{&a, {}});
  const auto& k = dynamic_cast<const CudaKernel&>(*base);
  DeviceBuffer dx = to_device(x), dy((200u * f + 1) * sizeof(float));
  dy.fill_bytes(0xff);
  k.run(dx.as<float>() + 1, f, dy.as<float>() + 1, false);  // 4-byte aligned only
  synchronize();
  std::vector<float> got(200u * f);
  dy.download(got.data(), got.size() * sizeof(float), sizeof(float));
  EXPECT_LE(relative_error(got, want), 1e-5);
}

TEST(CudaKernels, SelectedPlansComputeTheProductAndNeverChooseTheAnchor) {
  SKIP_WITHOUT_DEVICE();
  std::mt19937 rng(17);
  const index_t n = 2000;
  const Csr a = awkward_graph(n, n, 0.003, true, rng);
  const auto blocks = diagonal_blocks(a, random_starts(n, 64, rng));
  const std::vector<int> widths{7, 32};
  const auto shared = std::make_shared<const Csr>(a);
  const auto sels = select_device_plans(shared, blocks, widths, 3, gpu_machine_profile());
  ASSERT_EQ(sels.size(), widths.size());
  for (std::size_t w = 0; w < widths.size(); ++w) {
    const int f = widths[w];
    ASSERT_FALSE(sels[w].candidates.empty());
    EXPECT_NE(sels[w].candidates[sels[w].chosen].whole, "cusparse");
    EXPECT_TRUE(sels[w].anchor_ms.has_value());
    const auto x = random_floats(static_cast<std::size_t>(n) * f, rng);
    std::vector<double> want(static_cast<std::size_t>(n) * f);
    spmm_double(a, x, f, want, false);
    for (const Candidate& c : sels[w].candidates) {  // every measured set, not only the choice
      const ExecPlan plan(shared, blocks, c);
      const auto got =
          run_poisoned([&](const float* dx, float* dy) { plan.run(dx, f, dy); }, x, want.size());
      EXPECT_LE(relative_error(got, want), 1e-2) << c.to_json().dump();
    }
  }
}

TEST(CudaKernels, ThePlanApiPlansAndRunsOnTheGpuFromATemporaryMatrix) {
  SKIP_WITHOUT_DEVICE();
  register_cuda();
  std::mt19937 rng(23);
  const index_t n = 1500;
  const Csr a = awkward_graph(n, n, 0.004, false, rng);
  const auto starts = random_starts(n, 64, rng);
  SelectorOptions so;
  so.device = Device::kCuda;
  so.reps = 3;
  AdaptiveAggregator plan(Csr(a), starts, so, 1);  // the plan owns its copy
  const int f = 16;
  const auto x = random_floats(static_cast<std::size_t>(n) * f, rng);
  std::vector<double> want(static_cast<std::size_t>(n) * f);
  spmm_double(a, x, f, want, false);
  const auto got =
      run_poisoned([&](const float* dx, float* dy) { plan.run(dx, f, dy); }, x, want.size());
  EXPECT_LE(relative_error(got, want), 1e-2) << plan.explain().dump();
  EXPECT_EQ(plan.plan_for(f).candidate().device, Device::kCuda);
  EXPECT_NE(plan.plan_for(f).candidate().whole, "cusparse");
  EXPECT_TRUE(plan.explain()[std::to_string(f)].contains("anchor_cusparse_ms"));
}

// The plan a PyTorch user gets (MatrixPlan, the extension's one code path) on the GPU: X and Y
// in the caller's node order (the reordering moved nodes, so the device gathers rows around
// the kernels), forward and transpose, queued on a stream of the caller's that is not the
// default one, against the float64 reference.
TEST(CudaKernels, MatrixPlanRunsInTheCallersOrderOnTheCallersStream) {
  SKIP_WITHOUT_DEVICE();
  register_cuda();
  std::mt19937 rng(29);
  const index_t n = 900;
  Csr a = awkward_graph(n, n, 0.003, false, rng);
  std::vector<index_t> shuffle(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) shuffle[i] = i;
  std::shuffle(shuffle.begin(), shuffle.end(), rng);
  a = permute_symmetric(a, shuffle);
  const Csr at = transpose(a);
  MatrixPlanOptions o;
  o.reorder = ReorderMethod::kLabelProp;
  o.max_block = 32;
  o.selector.device = Device::kCuda;
  o.selector.use_cache = false;
  o.selector.reps = 3;
  MatrixPlan plan(Csr(a), 16, o);
  ASSERT_EQ(plan.device(), Device::kCuda);
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  for (const int f : {16, 5}) {
    const auto x = random_floats(static_cast<std::size_t>(n) * f, rng);
    for (const bool tr : {false, true}) {
      std::vector<double> want(x.size());
      spmm_double(tr ? at : a, x, f, want, false);
      DeviceBuffer dx = to_device(x), dy(x.size() * sizeof(float));
      dy.fill_bytes(0xff);
      synchronize();
      plan.run(dx.as<float>(), f, dy.as<float>(), tr, stream);
      ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
      std::vector<float> got(x.size());
      dy.download(got.data(), got.size() * sizeof(float));
      EXPECT_LE(relative_error(got, want), 1e-2) << "f=" << f << " transpose=" << tr;
    }
  }
  cudaStreamDestroy(stream);
}
