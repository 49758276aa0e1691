// Row gathers for plans that take X and Y in the caller's node order (row_order.cpp).
#include <cuda_runtime.h>

#include <cstdint>

#include "launch.hpp"

namespace gearbox::gnn::cuda::detail {

namespace {

// One block per output row (grid-strided over rows), threads across the row's f floats.
__global__ void gather_rows_kernel(const float* in, const std::int32_t* rows, std::int64_t n, int f,
                                   float* out) {
  for (std::int64_t i = blockIdx.x; i < n; i += gridDim.x) {
    const float* src = in + static_cast<std::int64_t>(rows[i]) * f;
    float* dst = out + i * f;
    for (int j = threadIdx.x; j < f; j += blockDim.x) dst[j] = src[j];
  }
}

}  // namespace

void gather_rows(const float* in, const std::int32_t* rows, std::int64_t n, int f, float* out) {
  if (n <= 0 || f <= 0) return;
  const unsigned grid = static_cast<unsigned>(n < 65535 ? n : 65535);
  const int threads = f >= 128 ? 128 : f >= 64 ? 64 : 32;
  gather_rows_kernel<<<grid, threads, 0, current_stream()>>>(in, rows, n, f, out);
  check_launch("row gather");
}

}  // namespace gearbox::gnn::cuda::detail
