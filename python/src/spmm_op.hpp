// The aggregation as a PyTorch operator, registered in C++: torch.ops.gearbox_gnn.spmm(Tensor
// x, int plan, bool transpose) -> Tensor, with a CPU kernel (MatrixPlan::run into a pooled
// output, see output_pool.hpp) and an autograd kernel (the gradient of x is the op again with
// transpose flipped). Its fake (meta) implementation is registered from Python
// (gearbox_gnn/_ops.py) for torch.compile. Plans are found by an integer id so that the op's
// arguments stay plain values; the registry holds them weakly (the Python Plan owns its plan).
#pragma once

#include <cstdint>
#include <memory>

#include <torch/extension.h>

#include "gearbox/gnn/matrix_plan.hpp"

namespace gearbox_py {

// Registers `plan` and returns its id (ids are never reused).
int64_t register_plan(const std::shared_ptr<gearbox::gnn::MatrixPlan>& plan);
// Forgets the plan with this id (a no-op for an unknown id).
void unregister_plan(int64_t id);

// Y = A x (or A^T x) through `plan` into a pooled output; `who` prefixes the error messages
// (ValueError/TypeError naming the argument) when x does not fit.
torch::Tensor run_plan(gearbox::gnn::MatrixPlan& plan, const torch::Tensor& x, bool transpose,
                       const char* who);

// torch.ops.gearbox_gnn.spmm(x, plan_id, transpose) called through the dispatcher (autograd
// included) without the Python operator lookup: the fast path of gearbox_gnn.spmm.
torch::Tensor call_spmm(const torch::Tensor& x, int64_t plan_id, bool transpose);

}  // namespace gearbox_py
