// Device memory, synchronisation, library handles and the GPU's measured ceilings.
#include <cstdint>
#include <string>
#include <utility>

#include "gearbox/core/cuda.hpp"
#include "gearbox/core/error.hpp"
#include "gearbox/gnn/cuda/cuda_kernels.hpp"
#include "handles.hpp"
#include "launch.hpp"

namespace gearbox::gnn::cuda {

namespace detail {

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error::runtime(std::string(what) + ": " + cudaGetErrorString(e));
}

void check_cublas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw Error::runtime(std::string(what) + ": " + cublasGetStatusString(s));
}

void check_cusparse(cusparseStatus_t s, const char* what) {
  if (s != CUSPARSE_STATUS_SUCCESS)
    throw Error::runtime(std::string(what) + ": " + cusparseGetErrorString(s));
}

namespace {
thread_local cudaStream_t stream_of_thread = nullptr;
}  // namespace

cudaStream_t current_stream() {
  return stream_of_thread;
}

cublasHandle_t cublas_handle() {
  static cublasHandle_t h = [] {
    cublasHandle_t x = nullptr;
    check_cublas(cublasCreate(&x), "cublasCreate");
    return x;
  }();
  check_cublas(cublasSetStream(h, current_stream()), "cublasSetStream");
  return h;
}

cusparseHandle_t cusparse_handle() {
  static cusparseHandle_t h = [] {
    cusparseHandle_t x = nullptr;
    check_cusparse(cusparseCreate(&x), "cusparseCreate");
    return x;
  }();
  check_cusparse(cusparseSetStream(h, current_stream()), "cusparseSetStream");
  return h;
}

int sm_count() {
  static const int n = [] {
    int v = 0;
    if (cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, 0) != cudaSuccess || v <= 0) {
      cudaGetLastError();
      return 132;
    }
    return v;
  }();
  return n;
}

}  // namespace detail

DeviceBuffer::DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
  if (bytes_ > 0) detail::check_cuda(cudaMalloc(&ptr_, bytes_), "cudaMalloc");
}

DeviceBuffer::DeviceBuffer(const void* host, std::size_t bytes) : DeviceBuffer(bytes) {
  upload(host, bytes);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept
    : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_) cudaFree(ptr_);
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);
}

void DeviceBuffer::upload(const void* host, std::size_t bytes, std::size_t offset) {
  if (offset + bytes > bytes_)
    throw Error::runtime("device upload past the end of the buffer")
        .expected("<= " + std::to_string(bytes_))
        .found(std::to_string(offset + bytes));
  if (bytes > 0)
    detail::check_cuda(
        cudaMemcpy(static_cast<char*>(ptr_) + offset, host, bytes, cudaMemcpyHostToDevice),
        "cudaMemcpy to device");
}

void DeviceBuffer::download(void* host, std::size_t bytes, std::size_t offset) const {
  if (offset + bytes > bytes_)
    throw Error::runtime("device download past the end of the buffer")
        .expected("<= " + std::to_string(bytes_))
        .found(std::to_string(offset + bytes));
  if (bytes > 0)
    detail::check_cuda(
        cudaMemcpy(host, static_cast<const char*>(ptr_) + offset, bytes, cudaMemcpyDeviceToHost),
        "cudaMemcpy to host");
}

void DeviceBuffer::fill_bytes(int value) {
  if (bytes_ > 0) detail::check_cuda(cudaMemset(ptr_, value, bytes_), "cudaMemset");
}

bool device_available() {
  return !cuda_devices().empty();
}

void* set_stream(void* stream) {
  return std::exchange(detail::stream_of_thread, static_cast<cudaStream_t>(stream));
}

void synchronize() {
  detail::check_cuda(cudaDeviceSynchronize(), "device work");
  detail::check_launch("device work");
}

void apply_epilogue(float* y, std::size_t rows, int f, const Epilogue& e) {
  detail::epilogue(y, static_cast<std::int64_t>(rows), f, e.bias, e.relu);
}

MachineProfile gpu_machine_profile() {
  MachineProfile m;
  m.threads = 1;
  m.mem_bw_gbs = cuda_copy_bandwidth_gbs();
  // FP32 rate: a 4096^3 SGEMM (default math mode: no TF32), best of 5 after a warm-up.
  const int n = 4096;
  DeviceBuffer a(sizeof(float) * n * n), b(sizeof(float) * n * n), c(sizeof(float) * n * n);
  a.fill_bytes(0x3c);  // 0x3c3c3c3c ~ 0.0115: finite non-zero inputs
  b.fill_bytes(0x3c);
  const float one = 1.f, zero = 0.f;
  cudaEvent_t start = nullptr, stop = nullptr;
  detail::check_cuda(cudaEventCreate(&start), "cudaEventCreate");
  detail::check_cuda(cudaEventCreate(&stop), "cudaEventCreate");
  float best = 1e30f;
  for (int rep = 0; rep < 6; ++rep) {
    cudaEventRecord(start);
    detail::check_cublas(
        cublasSgemm(detail::cublas_handle(), CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a.as<float>(),
                    n, b.as<float>(), n, &zero, c.as<float>(), n),
        "cublasSgemm");
    cudaEventRecord(stop);
    detail::check_cuda(cudaEventSynchronize(stop), "SGEMM probe");
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    if (rep > 0 && ms < best) best = ms;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  m.fp32_gflops = 2.0 * n * static_cast<double>(n) * n / (best * 1e-3) / 1e9;
  return m;
}

}  // namespace gearbox::gnn::cuda
