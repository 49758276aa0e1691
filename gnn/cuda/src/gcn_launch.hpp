// Entry points of gcn_kernels.cu (plain C++17 types): the element-wise and per-node steps of
// GCN training on the device. Random numbers are the CPU trainer's counter-based ones
// (gcn.cpp: unit(seed, stream, i)), so device and host draw identical dropout masks.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gearbox::gnn::cuda::detail {

// dst[k] = unit(seed, stream, k) < p ? 0 : src[k] * scale, k < n.
void dropout_copy(const float* src, float* dst, std::size_t n, std::uint64_t seed,
                  std::uint64_t stream, float p, float scale);

// keep = !training || p <= 0 || unit(seed, stream, k) >= p; mask[k] = keep;
// h1[k] = pre[k] > 0 && keep ? pre[k] * (training && p > 0 ? scale : 1) : 0.
void relu_dropout(const float* pre, float* h1, std::uint8_t* mask, std::size_t n,
                  std::uint64_t seed, std::uint64_t stream, float p, float scale, bool training);

// dh[k] = mask[k] && pre[k] > 0 ? dh[k] * scale : 0.
void relu_dropout_backward(float* dh, const float* pre, const std::uint8_t* mask, std::size_t n,
                           float scale);

// For each listed node with a label >= 0: softmax of z's row, loss -= log p[y] (summed into
// *loss), dz row = (p - onehot(y)) * inv_count (dz must be zeroed before), and *correct += 1
// when the argmax is y. dz may be null (evaluation only).
void softmax_xent(const float* z, int classes, const std::int32_t* labels, const std::int32_t* ids,
                  std::int64_t count, float inv_count, float* dz, double* loss, int* correct);

// out[k] = in[map[k]], k < n.
void gather_values(const float* in, const std::int64_t* map, float* out, std::size_t n);

// *sum += sum_k w[k]^2.
void sum_squares(const float* w, std::size_t n, double* sum);

// Adam with g += weight_decay * w first; c1, c2 the bias corrections of this step.
void adam_step(float* w, const float* g, float* m, float* v, std::size_t n, float lr, float c1,
               float c2, float weight_decay);

}  // namespace gearbox::gnn::cuda::detail
