// Column-compacted 16 x 8 tiles on the tensor cores (TF32 inputs, FP32 accumulation): one warp
// per (row window, slab of 16 x NSUB feature columns; NSUB = 2, 4 or 8, so up to 128 columns
// share each tile's values). Per tile, the warp stages the 16 x 8 values and the 8 X rows its
// compacted columns name (128-byte coalesced row pieces) in shared memory and issues NSUB
// m16n16k8 WMMA products; the epilogue (accumulate, bias, ReLU) is fused.
#include <cuda_runtime.h>
#include <mma.h>

#include "launch.hpp"

namespace gearbox::gnn::cuda::detail {

namespace {

using namespace nvcuda;

constexpr int kWarps = 4;  // warps per block
constexpr int kR = 16, kC = 8;

template <int NSUB>
__global__ void __launch_bounds__(kWarps * 32)
    tile_kernel(TileArgs t, const float* __restrict__ x, int f, float* __restrict__ y,
                bool accumulate, const float* __restrict__ bias, bool relu) {
  constexpr int kSlab = 16 * NSUB;  // feature columns per warp
  // B (kC x kSlab) is staged per tile; C (kR x kSlab) reuses the same space after the loop.
  __shared__ __align__(32) float s_a[kWarps][kR * kC];
  __shared__ __align__(32) float s_bc[kWarps][kR * kSlab];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int w = blockIdx.x * kWarps + warp;
  if (w >= t.windows) return;  // whole warps only: no block-wide barrier below
  const int n0 = blockIdx.y * kSlab;
  float* s_b = s_bc[warp];

  wmma::fragment<wmma::accumulator, 16, 16, 8, float> c[NSUB];
#pragma unroll
  for (int h = 0; h < NSUB; ++h) wmma::fill_fragment(c[h], 0.f);
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> a;
  wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> b;

  for (std::int64_t k = t.window_ptr[w]; k < t.window_ptr[w + 1]; ++k) {
    reinterpret_cast<float4*>(s_a[warp])[lane] =
        __ldg(reinterpret_cast<const float4*>(t.tile_val + k * kR * kC) + lane);
    const int xrow = lane < kC ? __ldg(t.tile_col + k * kC + lane) : -1;
#pragma unroll
    for (int r = 0; r < kC; ++r) {
      const int src = __shfl_sync(0xffffffffu, xrow, r);
      const float* xr = x + static_cast<std::size_t>(src) * f;
#pragma unroll
      for (int q = 0; q < kSlab / 32; ++q) {
        const int col = n0 + q * 32 + lane;
        s_b[r * kSlab + q * 32 + lane] = src >= 0 && col < f ? __ldg(xr + col) : 0.f;
      }
    }
    __syncwarp();
    wmma::load_matrix_sync(a, s_a[warp], kC);
#pragma unroll
    for (int i = 0; i < a.num_elements; ++i) a.x[i] = wmma::__float_to_tf32(a.x[i]);
#pragma unroll
    for (int h = 0; h < NSUB; ++h) {
      wmma::load_matrix_sync(b, s_b + h * 16, kSlab);
#pragma unroll
      for (int i = 0; i < b.num_elements; ++i) b.x[i] = wmma::__float_to_tf32(b.x[i]);
      wmma::mma_sync(c[h], a, b, c[h]);
    }
    __syncwarp();
  }
  float* s_c = s_bc[warp];
#pragma unroll
  for (int h = 0; h < NSUB; ++h)
    wmma::store_matrix_sync(s_c + h * 16, c[h], kSlab, wmma::mem_row_major);
  __syncwarp();
#pragma unroll
  for (int q = 0; q < kSlab / 32; ++q) {
    const int col = n0 + q * 32 + lane;
    if (col >= f) break;
    const float b_add = bias ? bias[col] : 0.f;
    for (int r = 0; r < kR; ++r) {
      const std::int64_t row = static_cast<std::int64_t>(w) * kR + r;
      if (row >= t.rows) break;
      float* p = y + row * f + col;
      float o = s_c[r * kSlab + q * 32 + lane] + b_add;
      if (accumulate) o += *p;
      *p = relu && o < 0.f ? 0.f : o;
    }
  }
}

template <int NSUB>
void launch(const TileArgs& t, const float* x, int f, float* y, bool acc, const float* bias,
            bool relu) {
  const dim3 grid((t.windows + kWarps - 1) / kWarps, (f + 16 * NSUB - 1) / (16 * NSUB));
  tile_kernel<NSUB><<<grid, kWarps * 32, 0, current_stream()>>>(t, x, f, y, acc, bias, relu);
  check_launch("tile kernel");
}

}  // namespace

void tile_spmm(const TileArgs& t, const float* x, int f, float* y, bool acc, const float* bias,
               bool relu) {
  if (t.windows <= 0 || f <= 0) return;
  if (f <= 32)
    launch<2>(t, x, f, y, acc, bias, relu);
  else if (f <= 64)
    launch<4>(t, x, f, y, acc, bias, relu);
  else
    launch<8>(t, x, f, y, acc, bias, relu);  // slabs of 128 columns
}

}  // namespace gearbox::gnn::cuda::detail
