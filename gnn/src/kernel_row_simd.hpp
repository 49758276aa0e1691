// Inner loops shared by the CPU kernels: one output row as a weighted sum of X rows, in
// register-blocked chunks of 64/32/16/8 floats and a masked tail, AVX2/FMA when available.
#pragma once

#include <cstring>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define GEARBOX_GNN_AVX2 1
#endif

#include "gearbox/gnn/csr.hpp"

namespace gearbox::gnn::detail {

#ifdef GEARBOX_GNN_AVX2
inline __m256i tail_mask(int n) {
  alignas(32) static const int m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(m + 8 - n));
}

template <int NV>
inline void gather_chunk(const index_t* c, const float* v, offset_t len, const float* x,
                         std::ptrdiff_t f, float* y, bool acc) {
  __m256 s[NV];
  for (int i = 0; i < NV; ++i) s[i] = acc ? _mm256_loadu_ps(y + 8 * i) : _mm256_setzero_ps();
  for (offset_t k = 0; k < len; ++k) {
    const __m256 w = _mm256_broadcast_ss(v + k);
    const float* xr = x + static_cast<std::ptrdiff_t>(c[k]) * f;
    for (int i = 0; i < NV; ++i) s[i] = _mm256_fmadd_ps(w, _mm256_loadu_ps(xr + 8 * i), s[i]);
  }
  for (int i = 0; i < NV; ++i) _mm256_storeu_ps(y + 8 * i, s[i]);
}

inline void gather_tail(const index_t* c, const float* v, offset_t len, const float* x,
                        std::ptrdiff_t f, float* y, bool acc, int n) {
  const __m256i m = tail_mask(n);
  __m256 s = acc ? _mm256_maskload_ps(y, m) : _mm256_setzero_ps();
  for (offset_t k = 0; k < len; ++k)
    s = _mm256_fmadd_ps(_mm256_broadcast_ss(v + k),
                        _mm256_maskload_ps(x + static_cast<std::ptrdiff_t>(c[k]) * f, m), s);
  _mm256_maskstore_ps(y, m, s);
}
#endif

// y[0:f] (=|+=) sum_k v[k] * x[c[k], 0:f]   (x row-major with stride f)
inline void gather_row(const index_t* c, const float* v, offset_t len, const float* x, int f,
                       float* y, bool acc) {
#ifdef GEARBOX_GNN_AVX2
  int j = 0;
  for (; j + 64 <= f; j += 64) gather_chunk<8>(c, v, len, x + j, f, y + j, acc);
  if (j + 32 <= f) {
    gather_chunk<4>(c, v, len, x + j, f, y + j, acc);
    j += 32;
  }
  if (j + 16 <= f) {
    gather_chunk<2>(c, v, len, x + j, f, y + j, acc);
    j += 16;
  }
  if (j + 8 <= f) {
    gather_chunk<1>(c, v, len, x + j, f, y + j, acc);
    j += 8;
  }
  if (j < f) gather_tail(c, v, len, x + j, f, y + j, acc, f - j);
#else
  if (!acc) std::memset(y, 0, sizeof(float) * static_cast<std::size_t>(f));
  for (offset_t k = 0; k < len; ++k) {
    const float* xr = x + static_cast<std::ptrdiff_t>(c[k]) * f;
    for (int j = 0; j < f; ++j) y[j] += v[k] * xr[j];
  }
#endif
}

// Whether a loop of about `work` multiply-adds is worth an OpenMP team: below it, waking and
// synchronising threads costs more than the work (and far more on an oversubscribed machine).
inline bool worth_threads(offset_t work) {
  return work >= (offset_t{1} << 19);
}

// The first row of the part of [0, rows) that thread t of nt should take, balancing
// nnz + rows (binary search on rowptr[r] + r, which is increasing).
inline index_t balanced_row(const offset_t* rowptr, index_t rows, int t, int nt) {
  const offset_t total = rowptr[rows] + rows;
  const offset_t goal = total * t / nt;
  index_t lo = 0, hi = rows;
  while (lo < hi) {
    const index_t mid = lo + (hi - lo) / 2;
    if (rowptr[mid] + mid < goal)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

}  // namespace gearbox::gnn::detail
