// The CUDA kernel specs and their cost models (register_cuda() adds them to the one kernel
// registry). Costs read the MachineProfile as the GPU's:
// bytes over the device copy bandwidth, flops over the FP32 rate (kTensorOverFp32 times it on
// the tensor cores), each with an achievable fraction, plus a launch cost per kernel call.
#include <algorithm>
#include <cmath>

#include "factories.hpp"
#include "gearbox/gnn/cuda/block_runs.hpp"
#include "gearbox/gnn/cuda/cuda_kernels.hpp"
#include "gearbox/gnn/cuda/tile_plan.hpp"

namespace gearbox::gnn::cuda {

namespace {

constexpr double kSector = 32.0;  // bytes per DRAM/L2 sector: a gathered X row costs sectors
constexpr double kLaunch = 4e-6;  // seconds per kernel launch (host-to-device path)

double gather_bytes(int f) {
  return std::ceil(f * 4.0 / kSector) * kSector;
}

CostEstimate finish(CostEstimate c, const MachineProfile& m, double flop_rate_scale,
                    double flop_eff, int launches) {
  const double bw = std::max(1e-3, m.mem_bw_gbs) * 1e9;
  const double fl = std::max(1e-3, m.fp32_gflops) * 1e9 * flop_rate_scale * flop_eff;
  c.seconds = std::max(c.bytes / bw, c.flops / fl) + launches * kLaunch;
  return c;
}

CostEstimate csr_cost(const Subgraph& s, int f, const MachineProfile& m) {
  const double nnz = static_cast<double>(s.a->nnz()), rows = s.a->rows;
  CostEstimate c;
  c.bytes = nnz * 8 + rows * 8 + nnz * gather_bytes(f) + rows * f * 4.0;
  c.flops = 2 * nnz * f;
  return finish(c, m, 1.0, 0.5, 2);
}

CostEstimate cusparse_cost(const Subgraph& s, int f, const MachineProfile& m) {
  CostEstimate c = csr_cost(s, f, m);
  c.seconds += kLaunch;  // descriptor set-up and buffer query on the host each call
  return c;
}

CostEstimate tiles_cost(const Subgraph& s, int f, const MachineProfile& m) {
  const double tiles = static_cast<double>(count_tiles(*s.a)), rows = s.a->rows;
  const double slab = f <= 32 ? 32 : f <= 64 ? 64 : 128;  // columns sharing a tile's values
  const double slabs = std::ceil(f / slab);
  CostEstimate c;
  c.bytes = slabs * tiles * (kTileRows * kTileCols * 4.0 + kTileCols * 4.0) +
            tiles * kTileCols * gather_bytes(f) + rows * f * 4.0;
  c.flops = tiles * kTileRows * kTileCols * 2.0 * slabs * slab;
  return finish(c, m, kTensorOverFp32, 0.2, 1);
}

CostEstimate dense_cost(const Subgraph& s, int f, const MachineProfile& m, double elem) {
  CostEstimate c;
  for (const auto& b : s.blocks) {
    const double n = b.size();
    c.bytes += n * n * elem + 2 * n * f * 4.0;
    c.flops += 2 * n * n * f;
  }
  if (elem < 4) c.bytes += s.a->rows * f * (4.0 + 2.0);  // X converted to bf16 each run
  const int launches = static_cast<int>(plan_block_runs(s.blocks).size()) + 1;
  return finish(c, m, kTensorOverFp32 * (elem < 4 ? 2.0 : 1.0), 0.5, launches);
}

std::vector<KernelSpec> make_registry() {
  using DC = DensityClass;
  std::vector<KernelSpec> r;
  r.push_back({"csr",
               Device::kCuda,
               {DC::kDense, DC::kMedium, DC::kSparse},
               false,
               [](const Subgraph& s) -> std::unique_ptr<Kernel> { return detail::make_csr(s); },
               csr_cost});
  r.push_back(
      {"csr-narrow",
       Device::kCuda,
       {DC::kDense, DC::kMedium, DC::kSparse},
       false,
       [](const Subgraph& s) -> std::unique_ptr<Kernel> { return detail::make_csr_narrow(s); },
       csr_cost});
  r.push_back(
      {"csr-wholerows",
       Device::kCuda,
       {DC::kDense, DC::kMedium, DC::kSparse},
       false,
       [](const Subgraph& s) -> std::unique_ptr<Kernel> { return detail::make_csr_whole_rows(s); },
       csr_cost});
  r.push_back(
      {"cusparse",
       Device::kCuda,
       {DC::kDense, DC::kMedium, DC::kSparse},
       false,
       [](const Subgraph& s) -> std::unique_ptr<Kernel> { return detail::make_cusparse(s); },
       cusparse_cost});
  r.push_back({"tiles-tf32",
               Device::kCuda,
               {DC::kDense, DC::kMedium},
               false,
               [](const Subgraph& s) -> std::unique_ptr<Kernel> { return detail::make_tiles(s); },
               tiles_cost});
  r.push_back(
      {"dense-tf32",
       Device::kCuda,
       {DC::kDense, DC::kMedium},
       true,
       [](const Subgraph& s) -> std::unique_ptr<Kernel> { return detail::make_dense(s, false); },
       [](const Subgraph& s, int f, const MachineProfile& m) { return dense_cost(s, f, m, 4.0); }});
  r.push_back(
      {"dense-bf16",
       Device::kCuda,
       {DC::kDense},
       true,
       [](const Subgraph& s) -> std::unique_ptr<Kernel> { return detail::make_dense(s, true); },
       [](const Subgraph& s, int f, const MachineProfile& m) { return dense_cost(s, f, m, 2.0); }});
  return r;
}

}  // namespace

namespace detail {
std::vector<KernelSpec> cuda_kernel_specs() {
  return make_registry();
}
}  // namespace detail

}  // namespace gearbox::gnn::cuda
