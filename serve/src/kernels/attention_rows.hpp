// Internal to the attention kernels: the cached rows as pointers, and the per-row score and
// prefetch helpers that the per-(token, head) kernel and the tiled kernel share.
#pragma once

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "gearbox/serve/kernels/attention.hpp"
#include "gearbox/serve/kernels/fp16.hpp"
#include "gearbox/serve/kernels/ops.hpp"

namespace gearbox::serve::attn {

// Every row of a KvView, in order, as pointers to its K and V (kv_dim values of T each:
// float, or std::uint16_t holding fp16).
template <class T>
struct RowsOf {
  std::vector<const T*> k, v;
};
using Rows = RowsOf<float>;
using Rows16 = RowsOf<std::uint16_t>;
Rows flatten(const KvView& kv);      // kv.elem == kF32
Rows16 flatten16(const KvView& kv);  // kv.elem == kF16
// An fp16 view widened to floats in `storage` (one span); a float view is returned as is.
KvView widen(const KvView& kv, int kv_dim, std::vector<float>& storage);

#if defined(__AVX2__) && defined(__FMA__)
inline __m256 load8(const float* p) {
  return _mm256_loadu_ps(p);
}
#if defined(__F16C__)
inline __m256 load8(const std::uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
#else
inline __m256 load8(const std::uint16_t* p) {
  alignas(32) float f[8];
  for (int i = 0; i < 8; ++i) f[i] = fp16_to_float(p[i]);
  return _mm256_load_ps(f);
}
#endif
#endif

// Rows ahead of the one in use whose head slice is prefetched: cached rows of one head are
// kv_dim apart, a stride the hardware prefetcher follows poorly, so without it attention
// waits on memory for every row (decode attention was 1.6x slower at 700 rows).
inline constexpr int kAhead = 16;
template <class T>
inline void prefetch_head(const T* p, int hd) {
  constexpr int kPerLine = 64 / static_cast<int>(sizeof(T));
  for (int d = 0; d < hd; d += kPerLine) __builtin_prefetch(p + d);
}

// Dot product of one head's values: one 8-wide FMA chain when n % 8 == 0 (the summation
// order the score loops use for their odd last row), dot_f32 otherwise.
template <class T>
inline float head_dot(const float* a, const T* b, int n) {
#if defined(__AVX2__) && defined(__FMA__)
  if (n % 8 == 0) {
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load8(b + i), acc);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
  }
#endif
  if constexpr (std::is_same_v<T, float>) {
    return dot_f32(a, b, n);
  } else {
    float acc = 0;
    for (int i = 0; i < n; ++i) acc += a[i] * fp16_to_float(b[i]);
    return acc;
  }
}

// Scores of G query heads (consecutive, hd apart from qg) against rows k[0 .. n), each read
// at k[j] + koff, times scale, into score[h * stride + j]. Rows up to k[prefetch_end - 1]
// may be prefetched. Two rows at a time so 2*G independent FMA chains hide latency.
template <int G, class T>
void group_scores(const float* qg, const T* const* k, std::size_t koff, int n, int prefetch_end,
                  int hd, float scale, float* score, std::size_t stride) {
#if defined(__AVX2__) && defined(__FMA__)
  if (hd % 8 == 0) {
    auto hsum = [](__m256 v) {
      __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
      h = _mm_add_ps(h, _mm_movehl_ps(h, h));
      h = _mm_add_ss(h, _mm_movehdup_ps(h));
      return _mm_cvtss_f32(h);
    };
    int j = 0;
    for (; j + 2 <= n; j += 2) {
      const T* k0 = k[j] + koff;
      const T* k1 = k[j + 1] + koff;
      if (j + kAhead + 1 < prefetch_end) {
        prefetch_head(k[j + kAhead] + koff, hd);
        prefetch_head(k[j + kAhead + 1] + koff, hd);
      }
      __m256 a0[G], a1[G];
      for (int h = 0; h < G; ++h) a0[h] = a1[h] = _mm256_setzero_ps();
      for (int d = 0; d < hd; d += 8) {
        const __m256 x0 = load8(k0 + d), x1 = load8(k1 + d);
        for (int h = 0; h < G; ++h) {
          const __m256 qv = _mm256_loadu_ps(qg + static_cast<std::size_t>(h) * hd + d);
          a0[h] = _mm256_fmadd_ps(qv, x0, a0[h]);
          a1[h] = _mm256_fmadd_ps(qv, x1, a1[h]);
        }
      }
      for (int h = 0; h < G; ++h) {
        score[static_cast<std::size_t>(h) * stride + j] = hsum(a0[h]) * scale;
        score[static_cast<std::size_t>(h) * stride + j + 1] = hsum(a1[h]) * scale;
      }
    }
    for (; j < n; ++j)
      for (int h = 0; h < G; ++h)
        score[static_cast<std::size_t>(h) * stride + j] =
            head_dot(qg + static_cast<std::size_t>(h) * hd, k[j] + koff, hd) * scale;
    return;
  }
#endif
  (void)prefetch_end;
  for (int j = 0; j < n; ++j)
    for (int h = 0; h < G; ++h)
      score[static_cast<std::size_t>(h) * stride + j] =
          head_dot(qg + static_cast<std::size_t>(h) * hd, k[j] + koff, hd) * scale;
}

// group_scores for any group size (templated up to 4, one head at a time beyond).
template <class T>
inline void scores_any(int group, const float* qg, const T* const* k, std::size_t koff, int n,
                       int prefetch_end, int hd, float scale, float* score, std::size_t stride) {
  switch (group) {
    case 1:
      return group_scores<1>(qg, k, koff, n, prefetch_end, hd, scale, score, stride);
    case 2:
      return group_scores<2>(qg, k, koff, n, prefetch_end, hd, scale, score, stride);
    case 3:
      return group_scores<3>(qg, k, koff, n, prefetch_end, hd, scale, score, stride);
    case 4:
      return group_scores<4>(qg, k, koff, n, prefetch_end, hd, scale, score, stride);
    default:
      for (int h = 0; h < group; ++h)
        group_scores<1>(qg + static_cast<std::size_t>(h) * hd, k, koff, n, prefetch_end, hd, scale,
                        score + static_cast<std::size_t>(h) * stride, stride);
  }
}

// The tiled kernel (attention_tiled.cpp): tiles of new tokens against tiles of cached rows
// with an online softmax, so each K/V tile is read once per token tile, not once per token.
// Same contract as attention() without row weights, on float or fp16 rows. Needs
// head_dim % 8 == 0 and AVX2/FMA (tiled_supported()).
bool tiled_supported(const AttentionShape& s, KvElem elem);
void attention_tiled(const AttentionShape& s, const float* q, int n_q, const Rows& rows,
                     float* out);
void attention_tiled(const AttentionShape& s, const float* q, int n_q, const Rows16& rows,
                     float* out);

}  // namespace gearbox::serve::attn
