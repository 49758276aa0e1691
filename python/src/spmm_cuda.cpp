// The CUDA kernel of torch.ops.gearbox_gnn.spmm (built when the package is built with nvcc):
// the plan's MatrixPlan, built for the GPU (gnn::cuda::register_cuda()), runs Y = A x with x
// and Y in GPU memory, queued on torch's current stream of x's device; Y comes from torch's
// caching allocator on that stream. No copy to the host, no synchronisation after the run.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <mutex>

#include "gearbox/gnn/cuda/device_plan.hpp"
#include "spmm_op.hpp"

namespace gearbox_py {
namespace {

torch::Tensor spmm_cuda(const torch::Tensor& x, int64_t plan_id, bool transpose) {
  const char* who = "gearbox_gnn.spmm(): argument 'x'";
  const RegisteredPlan p = find_plan(plan_id);
  check_input(*p.plan, p.device, x, who);
  const c10::cuda::CUDAGuard guard(x.device());
  const auto xc = x.contiguous();
  auto y = at::empty({x.size(0), x.size(1)}, xc.options());
  if (x.size(0) == 0) return y;
  void* stream = c10::cuda::getCurrentCUDAStream(x.device().index()).stream();
  p.plan->run(xc.data_ptr<float>(), static_cast<int>(x.size(1)), y.data_ptr<float>(), transpose,
              stream);
  return y;
}

}  // namespace

std::shared_ptr<gearbox::gnn::MatrixPlan> make_cuda_plan(gearbox::gnn::Csr a, int feature_width,
                                                         gearbox::gnn::MatrixPlanOptions opt,
                                                         int device_index) {
  const int count = static_cast<int>(c10::cuda::device_count());
  TORCH_CHECK(count > 0,
              "gearbox_gnn.plan(): argument 'device' is cuda but no CUDA device is "
              "visible (torch.cuda.is_available() is False)");
  TORCH_CHECK_VALUE(device_index >= 0 && device_index < count,
                    "gearbox_gnn.plan(): argument 'device' is cuda:", device_index, " but ", count,
                    " CUDA device(s) are visible");
  static std::mutex mu;
  static int gpu_in_use = -1;
  {
    std::lock_guard lock(mu);
    TORCH_CHECK_VALUE(gpu_in_use < 0 || gpu_in_use == device_index,
                      "gearbox_gnn.plan(): argument 'device' is cuda:", device_index,
                      " but this process already plans on cuda:", gpu_in_use,
                      " (gearbox_gnn runs on one GPU per process)");
    gpu_in_use = device_index;
  }
  const c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_index));
  gearbox::gnn::cuda::register_cuda();
  opt.selector.device = gearbox::gnn::Device::kCuda;
  return std::make_shared<gearbox::gnn::MatrixPlan>(std::move(a), feature_width, std::move(opt));
}

}  // namespace gearbox_py

TORCH_LIBRARY_IMPL(gearbox_gnn, CUDA, m) {
  m.impl("spmm", &gearbox_py::spmm_cuda);
}
