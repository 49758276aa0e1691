// Built when CUDA is on: device enumeration and a copy-bandwidth probe (the ceiling that GPU
// cost models divide bytes by).
#include <cuda_runtime.h>

#include <string>

#include "gearbox/core/cuda.hpp"
#include "gearbox/core/error.hpp"

namespace gearbox {

namespace {
void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error::runtime(std::string(what) + ": " + cudaGetErrorString(e));
}

__global__ void copy_kernel(const float4* __restrict__ in, float4* __restrict__ out,
                            std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x)
    out[i] = in[i];
}
}  // namespace

bool cuda_built() { return true; }

std::vector<CudaDevice> cuda_devices() {
  std::vector<CudaDevice> out;
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver / no device" error
    return out;
  }
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    out.push_back({i, p.name, p.major, p.minor, p.multiProcessorCount, p.totalGlobalMem});
  }
  return out;
}

double cuda_copy_bandwidth_gbs(std::size_t bytes) {
  if (cuda_devices().empty()) throw Error::runtime("no CUDA device");
  const std::size_t n = bytes / sizeof(float4);
  float4 *a = nullptr, *b = nullptr;
  check(cudaMalloc(&a, n * sizeof(float4)), "cudaMalloc");
  check(cudaMalloc(&b, n * sizeof(float4)), "cudaMalloc");
  check(cudaMemset(a, 0, n * sizeof(float4)), "cudaMemset");
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  float best = 1e30f;
  for (int rep = 0; rep < 10; ++rep) {
    cudaEventRecord(start);
    copy_kernel<<<132 * 8, 256>>>(a, b, n);
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    if (rep > 0 && ms < best) best = ms;
  }
  check(cudaGetLastError(), "copy kernel");
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaFree(a);
  cudaFree(b);
  return 2.0 * static_cast<double>(n * sizeof(float4)) / (best * 1e-3) / 1e9;
}

}  // namespace gearbox
