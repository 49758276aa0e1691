// CSR SpMM on the GPU: row groups of LANES lanes (several rows per warp for narrow
// features), float4 feature loads, column ids staged a group-width at a time and shared by
// shuffles, long rows capped in the row pass and finished by an atomic segment pass. Also the
// small helper kernels (epilogue, zeroing of row ranges, bf16 conversion).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <string>

#include "gearbox/core/error.hpp"
#include "launch.hpp"

namespace gearbox::gnn::cuda::detail {

namespace {

template <int VEC>
struct Vec;
template <>
struct Vec<4> {
  using T = float4;
};
template <>
struct Vec<1> {
  using T = float;
};

__device__ __forceinline__ void fma_into(float (&acc)[4], float w, float4 v) {
  acc[0] += w * v.x;
  acc[1] += w * v.y;
  acc[2] += w * v.z;
  acc[3] += w * v.w;
}
__device__ __forceinline__ void fma_into(float (&acc)[1], float w, float v) {
  acc[0] += w * v;
}

// Adds sum_{k in [kb, ke)} val[k] * X[col[k], cols of this lane] into acc. The next chunk's
// column ids and values are loaded before the current chunk's gathers, and the gathers are
// unrolled 8 ways, so that a chunk costs about one memory round trip, not three.
template <int VEC, int LANES, int CH>
__device__ __forceinline__ void gather(const CsrArgs& a, const float* __restrict__ x,
                                       std::int64_t kb, std::int64_t ke, int lane, int col0,
                                       unsigned mask, float (&acc)[CH][VEC]) {
  using V = typename Vec<VEC>::T;
  int c_next = 0;
  float w_next = 0.f;
  if (kb + lane < ke) {
    c_next = __ldg(a.col + kb + lane);
    w_next = __ldg(a.val + kb + lane);
  }
  for (std::int64_t k0 = kb; k0 < ke; k0 += LANES) {
    const int c = c_next;
    const float w = w_next;
    const std::int64_t k1 = k0 + LANES + lane;
    if (k1 < ke) {
      c_next = __ldg(a.col + k1);
      w_next = __ldg(a.val + k1);
    }
    const int n = ke - k0 < LANES ? static_cast<int>(ke - k0) : LANES;
#pragma unroll 8
    for (int i = 0; i < n; ++i) {
      const int ci = __shfl_sync(mask, c, i, LANES);
      const float wi = __shfl_sync(mask, w, i, LANES);
      const float* xr = x + static_cast<std::size_t>(ci) * a.f;
#pragma unroll
      for (int j = 0; j < CH; ++j) {
        const int cc = col0 + j * VEC * LANES;
        if (cc < a.f) fma_into(acc[j], wi, __ldg(reinterpret_cast<const V*>(xr + cc)));
      }
    }
  }
}

template <int LANES>
__device__ __forceinline__ unsigned group_mask() {
  if constexpr (LANES == 32) {
    return 0xffffffffu;
  } else {
    const unsigned base = (threadIdx.x % 32) / LANES * LANES;
    return ((1u << LANES) - 1u) << base;
  }
}

template <int VEC, int LANES, int CH>
__global__ void __launch_bounds__(256)
    row_pass(CsrArgs a, const float* __restrict__ x, float* __restrict__ y, bool accumulate,
             const float* __restrict__ bias, bool relu) {
  const int lane = threadIdx.x % LANES;
  const std::int64_t group =
      (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / LANES;
  const int col0 = blockIdx.y * (VEC * LANES * CH) + lane * VEC;
  const unsigned mask = group_mask<LANES>();
  for (int rr = 0; rr < a.rows_per_group; ++rr) {
    const std::int64_t row = group * a.rows_per_group + rr;
    if (row >= a.rows) return;  // the whole group leaves together
    const std::int64_t kb = a.rowptr[row];
    std::int64_t ke = a.rowptr[row + 1];
    const bool is_long = ke - kb > a.cap;
    if (is_long) ke = kb + a.cap;
    float acc[CH][VEC] = {};
    gather<VEC, LANES, CH>(a, x, kb, ke, lane, col0, mask, acc);
    float* yr = y + static_cast<std::size_t>(row) * a.f;
#pragma unroll
    for (int j = 0; j < CH; ++j) {
      const int cc = col0 + j * VEC * LANES;
      if (cc >= a.f) continue;
#pragma unroll
      for (int v = 0; v < VEC; ++v) {
        float o = acc[j][v];
        if (accumulate) o += yr[cc + v];
        if (!is_long) {  // long rows get their epilogue after the segment pass
          if (bias) o += bias[cc + v];
          if (relu) o = o > 0.f ? o : 0.f;
        }
        acc[j][v] = o;
      }
      if constexpr (VEC == 4)
        *reinterpret_cast<float4*>(yr + cc) =
            make_float4(acc[j][0], acc[j][1], acc[j][2], acc[j][3]);
      else
        yr[cc] = acc[j][0];
    }
  }
}

template <int VEC, int LANES, int CH>
__global__ void __launch_bounds__(256)
    segment_pass(CsrArgs a, const float* __restrict__ x, float* __restrict__ y) {
  const int lane = threadIdx.x % LANES;
  const std::int64_t s = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / LANES;
  if (s >= a.nseg) return;
  const int col0 = blockIdx.y * (VEC * LANES * CH) + lane * VEC;
  float acc[CH][VEC] = {};
  gather<VEC, LANES, CH>(a, x, a.seg_begin[s], a.seg_end[s], lane, col0, group_mask<LANES>(), acc);
  float* yr = y + static_cast<std::size_t>(a.seg_row[s]) * a.f;
#pragma unroll
  for (int j = 0; j < CH; ++j) {
    const int cc = col0 + j * VEC * LANES;
    if (cc >= a.f) continue;
#pragma unroll
    for (int v = 0; v < VEC; ++v) atomicAdd(yr + cc + v, acc[j][v]);
  }
}

template <int VEC, int LANES, int CH>
void launch(const CsrArgs& a, const float* x, float* y, bool acc, const float* bias, bool relu) {
  constexpr int kThreads = 256, kGroupsPerBlock = kThreads / LANES;
  const std::int64_t groups =
      (static_cast<std::int64_t>(a.rows) + a.rows_per_group - 1) / a.rows_per_group;
  if (groups > 0) {
    const dim3 grid(static_cast<unsigned>((groups + kGroupsPerBlock - 1) / kGroupsPerBlock),
                    a.slabs);
    row_pass<VEC, LANES, CH><<<grid, kThreads, 0, current_stream()>>>(a, x, y, acc, bias, relu);
    check_launch("csr row pass");
  }
  if (a.nseg > 0) {
    const dim3 grid(static_cast<unsigned>((a.nseg + kGroupsPerBlock - 1) / kGroupsPerBlock),
                    a.slabs);
    segment_pass<VEC, LANES, CH><<<grid, kThreads, 0, current_stream()>>>(a, x, y);
    check_launch("csr segment pass");
    if (bias || relu) epilogue(y, a.nlong, a.f, bias, relu, a.long_rows);
  }
}

template <int VEC>
void dispatch_lanes(const CsrArgs& a, const float* x, float* y, bool acc, const float* bias,
                    bool relu) {
  switch (a.lanes) {
    case 4:
      return launch<VEC, 4, 1>(a, x, y, acc, bias, relu);
    case 8:
      return launch<VEC, 8, 1>(a, x, y, acc, bias, relu);
    case 16:  // more than one vector per lane only when 16 is the variant's lane limit
      if (a.chunks == 4) return launch<VEC, 16, 4>(a, x, y, acc, bias, relu);
      if (a.chunks == 2) return launch<VEC, 16, 2>(a, x, y, acc, bias, relu);
      return launch<VEC, 16, 1>(a, x, y, acc, bias, relu);
    default:
      if (a.chunks == 4) return launch<VEC, 32, 4>(a, x, y, acc, bias, relu);
      if (a.chunks == 2) return launch<VEC, 32, 2>(a, x, y, acc, bias, relu);
      return launch<VEC, 32, 1>(a, x, y, acc, bias, relu);
  }
}

__global__ void epilogue_kernel(float* y, std::int64_t rows, int f, const float* bias, bool relu,
                                const std::int32_t* row_list) {
  const std::int64_t total = rows * f;
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < total;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t r = i / f;
    const int c = static_cast<int>(i % f);
    float* p = y + (row_list ? static_cast<std::int64_t>(row_list[r]) : r) * f + c;
    float o = *p + (bias ? bias[c] : 0.f);
    *p = relu && o < 0.f ? 0.f : o;
  }
}

__global__ void zero_ranges_kernel(float* y, const std::int32_t* ranges, int f) {
  const std::int64_t b = static_cast<std::int64_t>(ranges[2 * blockIdx.x]) * f;
  const std::int64_t e = static_cast<std::int64_t>(ranges[2 * blockIdx.x + 1]) * f;
  for (std::int64_t i = b + threadIdx.x; i < e; i += blockDim.x) y[i] = 0.f;
}

__global__ void to_bf16_kernel(const float* in, __nv_bfloat16* out, std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x)
    out[i] = __float2bfloat16_rn(in[i]);
}

unsigned grid_for(std::int64_t n) {
  const std::int64_t b = (n + 255) / 256;
  return static_cast<unsigned>(b < 1 ? 1 : b > 65535 ? 65535 : b);
}

}  // namespace

void check_launch(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw Error::runtime(std::string(what) + ": " + cudaGetErrorString(e));
}

void csr_spmm(const CsrArgs& a, const float* x, float* y, bool acc, const float* bias, bool relu) {
  if (a.vec == 4)
    dispatch_lanes<4>(a, x, y, acc, bias, relu);
  else
    dispatch_lanes<1>(a, x, y, acc, bias, relu);
}

void epilogue(float* y, std::int64_t rows, int f, const float* bias, bool relu,
              const std::int32_t* row_list) {
  if (rows <= 0 || f <= 0 || (!bias && !relu)) return;
  epilogue_kernel<<<grid_for(rows * f), 256, 0, current_stream()>>>(y, rows, f, bias, relu,
                                                                    row_list);
  check_launch("epilogue");
}

void zero_ranges(float* y, const std::int32_t* ranges, int nranges, int f) {
  if (nranges <= 0) return;
  zero_ranges_kernel<<<nranges, 256, 0, current_stream()>>>(y, ranges, f);
  check_launch("zero rows");
}

void to_bf16(const float* in, void* out, std::size_t n) {
  if (n == 0) return;
  to_bf16_kernel<<<grid_for(static_cast<std::int64_t>(n)), 256, 0, current_stream()>>>(
      in, static_cast<__nv_bfloat16*>(out), n);
  check_launch("bf16 conversion");
}

}  // namespace gearbox::gnn::cuda::detail
