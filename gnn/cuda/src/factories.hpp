// Constructors of the CUDA kernels (each prepares its format on the device from a subgraph).
#pragma once

#include <memory>
#include <vector>

#include "gearbox/gnn/cuda/cuda_kernels.hpp"
#include "gearbox/gnn/plan.hpp"

namespace gearbox::gnn::cuda::detail {

std::unique_ptr<CudaKernel> make_csr(const Subgraph& s);
// The CSR kernel's launch variants (csr_launch.hpp): 16 lanes per row, whole-row cap.
std::unique_ptr<CudaKernel> make_csr_narrow(const Subgraph& s);
std::unique_ptr<CudaKernel> make_csr_whole_rows(const Subgraph& s);
std::unique_ptr<CudaKernel> make_cusparse(const Subgraph& s);
std::unique_ptr<CudaKernel> make_tiles(const Subgraph& s);
std::unique_ptr<CudaKernel> make_dense(const Subgraph& s, bool bf16);

// A plan's X and Y in the caller's node order on the GPU (row_order.cpp): gathers into the
// planned order and back through device copies of the permutation, scratch buffers grown to
// the widest width run.
std::unique_ptr<DeviceRowOrder> make_row_order(const std::vector<index_t>& old_of_new);

// Every CUDA kernel's spec (device kCuda) with its cost model (registry.cpp), for
// register_cuda().
std::vector<KernelSpec> cuda_kernel_specs();

}  // namespace gearbox::gnn::cuda::detail
