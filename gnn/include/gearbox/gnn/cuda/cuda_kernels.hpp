// The gnn engine's CUDA kernels behind the Kernel interface (Device::kCuda): x and y passed
// to run() are DEVICE pointers, and runs are asynchronous on the calling thread's current
// stream (the default stream unless set_stream() chose another; call synchronize() before
// reading y or timing on the host). One kernel per density class:
//   "csr"        CSR SpMM, fp32 (sparse remainder; any class): float4 loads, several rows
//                per warp for narrow features, long rows split across warps.
//   "csr-narrow", "csr-wholerows"  its launch variants (at most 16 lanes per row; rows up
//                to max(256, 16 x mean degree) left whole), measured by the selector.
//   "tiles-tf32" column-compacted 16x8 tiles on the tensor cores (medium density).
//   "dense-tf32" diagonal blocks as dense GEMMs, cuBLAS strided-batched, TF32 inputs with
//                FP32 accumulation (dense class).
//   "dense-bf16" the same with BF16 inputs (A and X rounded to bf16), FP32 accumulation.
//   "cusparse"   the anchor: our own call of cusparseSpMM on the same CSR (any class).
// Only available in builds with CUDA (GEARBOX_GNN_CUDA is defined for users of the target).
#pragma once

#include <cstddef>
#include <vector>

#include "gearbox/core/machine.hpp"
#include "gearbox/gnn/kernels.hpp"

namespace gearbox::gnn::cuda {

// Applied to the finished rows after the aggregation: y = act(y + bias). bias is a device
// pointer to F floats (or null).
struct Epilogue {
  const float* bias = nullptr;
  bool relu = false;
  bool empty() const { return bias == nullptr && !relu; }
};

class CudaKernel : public Kernel {
 public:
  Device device() const override { return Device::kCuda; }
  void run(const float* x, int f, float* y, bool accumulate) const override {
    run_fused(x, f, y, accumulate, Epilogue{});
  }
  // Y (=|+=) A X, then the epilogue on every row (fused into the kernel where it can be).
  virtual void run_fused(const float* x, int f, float* y, bool accumulate,
                         const Epilogue& e) const = 0;
  // Relative error bound of this kernel's precision (fp32, tf32 or bf16 inputs).
  virtual double error_bound() const = 0;
};

// The CUDA kernel specs (device kCuda) are in kernel_registry() once cuda::register_cuda()
// (device_plan.hpp) has run. Their cost functions read MachineProfile as the GPU's:
// mem_bw_gbs = device copy bandwidth, fp32_gflops = FP32 GEMM rate (tensor-core rates are
// taken as kTensorOverFp32 times that).
inline constexpr double kTensorOverFp32 = 8.0;

// True when a CUDA device is visible.
bool device_available();

// Sends this thread's later launches (kernels, cuBLAS and cuSPARSE calls, async copies) to
// `stream` (a cudaStream_t; null: the default stream); returns the previous one.
void* set_stream(void* stream);

// Waits for all device work; Error::runtime naming the failure if any launch failed.
void synchronize();

// y = act(y + bias) on rows x F (device pointers), asynchronous.
void apply_epilogue(float* y, std::size_t rows, int f, const Epilogue& e);

// The GPU's ceilings as a MachineProfile for the cost models: copy bandwidth measured now
// (core's probe), FP32 rate from a timed cuBLAS SGEMM (pedantic FP32, no TF32).
MachineProfile gpu_machine_profile();

// Owned device memory (cudaMalloc), moved not copied.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes);
  DeviceBuffer(const void* host, std::size_t bytes);  // allocate and upload
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer();

  void upload(const void* host, std::size_t bytes, std::size_t offset = 0);
  void download(void* host, std::size_t bytes, std::size_t offset = 0) const;
  void fill_bytes(int value);  // cudaMemset of the whole buffer
  std::size_t bytes() const { return bytes_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

// Uploads a host vector into a new device buffer.
template <typename T>
DeviceBuffer to_device(const std::vector<T>& v) {
  return DeviceBuffer(v.data(), v.size() * sizeof(T));
}

}  // namespace gearbox::gnn::cuda
