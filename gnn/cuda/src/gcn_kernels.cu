// Element-wise and per-node steps of GCN training on the device (see gcn_launch.hpp).
#include <cuda_runtime.h>

#include "gcn_launch.hpp"
#include "launch.hpp"

namespace gearbox::gnn::cuda::detail {

namespace {

__device__ __forceinline__ std::uint64_t hash64(std::uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The CPU trainers' counter_uniform(seed, stream, i) (random_init.cpp), bit for bit.
__device__ __forceinline__ float unit(std::uint64_t seed, std::uint64_t stream, std::uint64_t i) {
  return static_cast<float>(
             hash64(seed * 0x9e3779b97f4a7c15ull + stream * 0xd1b54a32d192ed03ull + i) >> 40) *
         0x1.0p-24f;
}

unsigned blocks_for(std::size_t n) {
  const std::size_t b = (n + 255) / 256;
  return static_cast<unsigned>(b < 1 ? 1 : b > 65535 ? 65535 : b);
}

#define GRID_LOOP(k, n)                                                             \
  for (std::size_t k = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; k < (n); \
       k += std::size_t{gridDim.x} * blockDim.x)

__global__ void dropout_copy_kernel(const float* src, float* dst, std::size_t n, std::uint64_t seed,
                                    std::uint64_t stream, float p, float scale) {
  GRID_LOOP(k, n) dst[k] = unit(seed, stream, k) < p ? 0.f : src[k] * scale;
}

__global__ void relu_dropout_kernel(const float* pre, float* h1, std::uint8_t* mask, std::size_t n,
                                    std::uint64_t seed, std::uint64_t stream, float p, float scale,
                                    bool training) {
  GRID_LOOP(k, n) {
    const bool keep = !training || p <= 0.f || unit(seed, stream, k) >= p;
    mask[k] = keep;
    h1[k] = pre[k] > 0.f && keep ? pre[k] * (training && p > 0.f ? scale : 1.f) : 0.f;
  }
}

__global__ void relu_dropout_backward_kernel(float* dh, const float* pre, const std::uint8_t* mask,
                                             std::size_t n, float scale) {
  GRID_LOOP(k, n) dh[k] = mask[k] && pre[k] > 0.f ? dh[k] * scale : 0.f;
}

__global__ void softmax_xent_kernel(const float* z, int c, const std::int32_t* labels,
                                    const std::int32_t* ids, std::int64_t count, float inv,
                                    float* dz, double* loss, int* correct) {
  GRID_LOOP(t, static_cast<std::size_t>(count)) {
    const std::int64_t i = ids[t];
    const int y = labels[i];
    if (y < 0) continue;
    const float* zi = z + i * c;
    float mx = zi[0];
    int arg = 0;
    for (int j = 1; j < c; ++j)
      if (zi[j] > mx) {
        mx = zi[j];
        arg = j;
      }
    float s = 0.f;
    for (int j = 0; j < c; ++j) s += expf(zi[j] - mx);
    const float py = expf(zi[y] - mx) / s;
    if (loss) atomicAdd(loss, -static_cast<double>(logf(fmaxf(py, 1e-30f))));
    if (correct && arg == y) atomicAdd(correct, 1);
    if (dz)
      for (int j = 0; j < c; ++j)
        dz[i * c + j] = (expf(zi[j] - mx) / s - (j == y ? 1.f : 0.f)) * inv;
  }
}

__global__ void gather_values_kernel(const float* in, const std::int64_t* map, float* out,
                                     std::size_t n) {
  GRID_LOOP(k, n) out[k] = in[map[k]];
}

__global__ void sum_squares_kernel(const float* w, std::size_t n, double* sum) {
  double s = 0;
  GRID_LOOP(k, n) s += static_cast<double>(w[k]) * w[k];
  for (int o = 16; o > 0; o /= 2) s += __shfl_down_sync(0xffffffffu, s, o);
  if (threadIdx.x % 32 == 0) atomicAdd(sum, s);
}

__global__ void adam_kernel(float* w, const float* g, float* m, float* v, std::size_t n, float lr,
                            float c1, float c2, float wd) {
  GRID_LOOP(k, n) {
    const float gk = g[k] + wd * w[k];
    m[k] = 0.9f * m[k] + 0.1f * gk;
    v[k] = 0.999f * v[k] + 0.001f * gk * gk;
    w[k] -= lr * (m[k] / c1) / (sqrtf(v[k] / c2) + 1e-8f);
  }
}

}  // namespace

void dropout_copy(const float* src, float* dst, std::size_t n, std::uint64_t seed,
                  std::uint64_t stream, float p, float scale) {
  if (n == 0) return;
  dropout_copy_kernel<<<blocks_for(n), 256>>>(src, dst, n, seed, stream, p, scale);
  check_launch("dropout");
}

void relu_dropout(const float* pre, float* h1, std::uint8_t* mask, std::size_t n,
                  std::uint64_t seed, std::uint64_t stream, float p, float scale, bool training) {
  if (n == 0) return;
  relu_dropout_kernel<<<blocks_for(n), 256>>>(pre, h1, mask, n, seed, stream, p, scale, training);
  check_launch("relu + dropout");
}

void relu_dropout_backward(float* dh, const float* pre, const std::uint8_t* mask, std::size_t n,
                           float scale) {
  if (n == 0) return;
  relu_dropout_backward_kernel<<<blocks_for(n), 256>>>(dh, pre, mask, n, scale);
  check_launch("relu + dropout backward");
}

void softmax_xent(const float* z, int classes, const std::int32_t* labels, const std::int32_t* ids,
                  std::int64_t count, float inv_count, float* dz, double* loss, int* correct) {
  if (count <= 0) return;
  softmax_xent_kernel<<<blocks_for(static_cast<std::size_t>(count)), 256>>>(
      z, classes, labels, ids, count, inv_count, dz, loss, correct);
  check_launch("softmax cross-entropy");
}

void gather_values(const float* in, const std::int64_t* map, float* out, std::size_t n) {
  if (n == 0) return;
  gather_values_kernel<<<blocks_for(n), 256>>>(in, map, out, n);
  check_launch("gather values");
}

void sum_squares(const float* w, std::size_t n, double* sum) {
  if (n == 0) return;
  sum_squares_kernel<<<blocks_for(n), 256>>>(w, n, sum);
  check_launch("sum of squares");
}

void adam_step(float* w, const float* g, float* m, float* v, std::size_t n, float lr, float c1,
               float c2, float weight_decay) {
  if (n == 0) return;
  adam_kernel<<<blocks_for(n), 256>>>(w, g, m, v, n, lr, c1, c2, weight_decay);
  check_launch("adam");
}

}  // namespace gearbox::gnn::cuda::detail
