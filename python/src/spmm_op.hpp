// The aggregation as a PyTorch operator, registered in C++: torch.ops.gearbox_gnn.spmm(Tensor
// x, int plan, bool transpose) -> Tensor, with a CPU kernel (MatrixPlan::run into a pooled
// output, see output_pool.hpp), a CUDA kernel in builds with CUDA (spmm_cuda.cpp: the same
// MatrixPlan built for the GPU, run on torch's current stream) and an autograd kernel (the gradient
// of x is the op again with transpose flipped). Its fake (meta) implementation is registered from
// Python (gearbox_gnn/_ops.py) for torch.compile. Plans are found by an integer id so that the op's
// arguments stay plain values; the registry holds them weakly (the Python Plan owns its plan).
#pragma once

#include <cstdint>
#include <memory>

#include <torch/extension.h>

#include "gearbox/gnn/matrix_plan.hpp"

namespace gearbox_py {

// A plan and the torch device its kernels run on (CPU, or the GPU it was built for).
struct RegisteredPlan {
  std::shared_ptr<gearbox::gnn::MatrixPlan> plan;
  c10::Device device = c10::Device(c10::DeviceType::CPU);
};

// Registers `plan` (on `device`) and returns its id (ids are never reused).
int64_t register_plan(const std::shared_ptr<gearbox::gnn::MatrixPlan>& plan, c10::Device device);
// Forgets the plan with this id (a no-op for an unknown id).
void unregister_plan(int64_t id);
// The live plan with this id; ValueError naming spmm()'s argument 'plan' when it is gone.
RegisteredPlan find_plan(int64_t id);

// ValueError/TypeError prefixed by `who` unless x is a float32 [plan.nodes(), F] tensor with
// 1 <= F <= 65536 on `device`, the torch device the plan runs on.
void check_input(const gearbox::gnn::MatrixPlan& plan, c10::Device device, const torch::Tensor& x,
                 const char* who);

// Y = A x (or A^T x) through a CPU `plan` into a pooled output; `who` prefixes the error
// messages (ValueError/TypeError naming the argument) when x does not fit.
torch::Tensor run_plan(gearbox::gnn::MatrixPlan& plan, const torch::Tensor& x, bool transpose,
                       const char* who);

// torch.ops.gearbox_gnn.spmm(x, plan_id, transpose) called through the dispatcher (autograd
// included) without the Python operator lookup: the fast path of gearbox_gnn.spmm.
torch::Tensor call_spmm(const torch::Tensor& x, int64_t plan_id, bool transpose);

#ifdef GEARBOX_PY_CUDA
// Builds the plan of `a` on GPU `device_index` (spmm_cuda.cpp): the CUDA kernels registered,
// the selection run on that GPU. RuntimeError when no GPU is visible; ValueError naming
// 'device' when the index is out of range or another GPU of this process already has plans
// (the gnn library's CUDA handles serve one GPU per process).
std::shared_ptr<gearbox::gnn::MatrixPlan> make_cuda_plan(gearbox::gnn::Csr a, int feature_width,
                                                         gearbox::gnn::MatrixPlanOptions opt,
                                                         int device_index);
#endif

}  // namespace gearbox_py
