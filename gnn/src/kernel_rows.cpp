// Row-range inner loops (kernel_rows.hpp): AVX-512, AVX2/FMA and scalar, chosen by the caller
// at run time.
#include "kernel_rows.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

namespace gearbox::gnn::detail {

namespace {

// ---- AVX-512 --------------------------------------------------------------------------------
// y[0:w] (=|+=) sum_k v[k] x[c[k], 0:w], w <= 16 * NV, the first vector masked by `first` and
// the last by `last` (lanes outside the masks are neither read nor written).
// PF: software prefetch of the X rows pd entries ahead (the tile's lines of each), also past
// this row into the next rows' entries (c[len .. avail) are valid indices), clamped to the
// last one; 0 none, 1 into L1 (T0), 2 into L2 (T1). The prefetch is branch-free: with a
// branch in the loop GCC 12 kept the accumulators in memory (a load and a store around every
// FMA, measured 1.5x slower).
template <int NV, int PF>
__attribute__((target("avx512f"))) void tile_row_512(const index_t* c, const float* v, offset_t len,
                                                     const float* x, std::ptrdiff_t f, float* y,
                                                     bool acc, __mmask16 first, __mmask16 last,
                                                     int pd, offset_t avail) {
  const auto mask = [first, last](int i) {
    return static_cast<__mmask16>((i == 0 ? first : 0xffff) & (i + 1 == NV ? last : 0xffff));
  };
  __m512 s0[NV], s1[NV];
#pragma GCC unroll 16
  for (int i = 0; i < NV; ++i) {
    const __mmask16 m = mask(i);
    s0[i] = acc ? _mm512_maskz_loadu_ps(m, y + 16 * i) : _mm512_setzero_ps();
    s1[i] = _mm512_setzero_ps();
  }
  offset_t k = 0;
  for (; k + 2 <= len; k += 2) {
    if constexpr (PF != 0) {
      constexpr _mm_hint kHint = PF == 2 ? _MM_HINT_T1 : _MM_HINT_T0;
      const offset_t q = k + pd < avail - 1 ? k + pd : avail - 2;
      const float* p0 = x + static_cast<std::ptrdiff_t>(c[q]) * f;
      const float* p1 = x + static_cast<std::ptrdiff_t>(c[q + 1]) * f;
#pragma GCC unroll 16
      for (int i = 0; i < NV; ++i) {
        _mm_prefetch(reinterpret_cast<const char*>(p0 + 16 * i), kHint);
        _mm_prefetch(reinterpret_cast<const char*>(p1 + 16 * i), kHint);
      }
    }
    const __m512 w0 = _mm512_set1_ps(v[k]), w1 = _mm512_set1_ps(v[k + 1]);
    const float* x0 = x + static_cast<std::ptrdiff_t>(c[k]) * f;
    const float* x1 = x + static_cast<std::ptrdiff_t>(c[k + 1]) * f;
#pragma GCC unroll 16
    for (int i = 0; i < NV; ++i) {
      const __mmask16 m = mask(i);
      s0[i] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(m, x0 + 16 * i), s0[i]);
      s1[i] = _mm512_fmadd_ps(w1, _mm512_maskz_loadu_ps(m, x1 + 16 * i), s1[i]);
    }
  }
  if (k < len) {
    const __m512 w0 = _mm512_set1_ps(v[k]);
    const float* x0 = x + static_cast<std::ptrdiff_t>(c[k]) * f;
#pragma GCC unroll 16
    for (int i = 0; i < NV; ++i) {
      const __mmask16 m = mask(i);
      s0[i] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(m, x0 + 16 * i), s0[i]);
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < NV; ++i) {
    const __mmask16 m = mask(i);
    _mm512_mask_storeu_ps(y + 16 * i, m, _mm512_add_ps(s0[i], s1[i]));
  }
}

template <int NV>
__attribute__((target("avx512f"))) void tile_row_512(const index_t* c, const float* v, offset_t len,
                                                     const float* x, std::ptrdiff_t f, float* y,
                                                     bool acc, __mmask16 first, __mmask16 last,
                                                     int pd, bool into_l2, offset_t avail) {
  if (pd > 0 && avail >= 2 && into_l2)
    tile_row_512<NV, 2>(c, v, len, x, f, y, acc, first, last, pd, avail);
  else if (pd > 0 && avail >= 2)
    tile_row_512<NV, 1>(c, v, len, x, f, y, acc, first, last, pd, avail);
  else
    tile_row_512<NV, 0>(c, v, len, x, f, y, acc, first, last, pd, avail);
}

// One panel [r0, r1), columns [j, j + w) of every row.
// When X's slice starts d floats past a 64-byte boundary (std::vector gives 16-byte alignment;
// f a multiple of 16 keeps d the same in every row), every load of X would span two cache
// lines: the slice is then taken as w / 16 + 1 vectors from the boundary below it, the first
// masked to lanes >= d and the last to lanes < d (measured: X at a 64-byte boundary made this
// kernel 1.18x faster on sbm 200k/256). Lane l of vector i is column j - d + 16 i + l in Y
// too, read and written there with unaligned masked accesses whatever Y's own alignment: only
// once per row, against every entry's loads of X. (Until 2026-12-07 the shift needed Y at the
// same offset as X; with X 32 and Y 48 bytes past a boundary, as two heap blocks can be, plain
// CSR ran 1.3x slower on ego-facebook at F = 128, 1.7x without prefetch.)
__attribute__((target("avx512f,prfchw"))) void rows_512(const Csr& a, index_t r0, index_t r1,
                                                        const float* x, int f, float* y,
                                                        const index_t* yrow, bool acc, int j, int w,
                                                        int pd, PrefetchInto into) {
  const auto xa = reinterpret_cast<std::uintptr_t>(x + j) % 64;
  const int d = static_cast<int>(xa / 4);
  const bool shift = xa != 0 && xa % 4 == 0 && f % 16 == 0 && w % 16 == 0 && w <= 128;
  const int nv = shift ? w / 16 + 1 : (w + 15) / 16;
  const __mmask16 first = shift ? static_cast<__mmask16>(0xffffu << d) : __mmask16(0xffff);
  const __mmask16 last = shift ? static_cast<__mmask16>((1u << d) - 1u)
                               : static_cast<__mmask16>((1u << (w - 16 * (nv - 1))) - 1u);
  const int back = shift ? d : 0;  // the slice is read and written from `back` floats before it
  const bool into_l2 = resolve_prefetch_into(into, w) == PrefetchInto::kL2;
  const offset_t* rp = a.rowptr.data();
  for (index_t r = r0; r < r1; ++r) {
    const index_t* c = a.col.data() + rp[r];
    const float* v = a.val.data() + rp[r];
    const offset_t len = rp[r + 1] - rp[r], avail = a.nnz() - rp[r];
    float* yr = y + static_cast<std::ptrdiff_t>(yrow ? yrow[r] : r) * f + j - back;
    // Rows written through a permutation land anywhere in Y, where no hardware prefetcher
    // follows them: the next row's slice is prefetched for writing (prefetchw) while this
    // one's entries are summed. Measured with X and Y 64-byte aligned (levers bench, 31 and 21
    // rounds, 2026-12-07 20:02 UTC): the fused caller's-order CSR 1.24-1.28x faster on cora
    // and citeseer, 1.03-1.05x on pubmed, cond-mat-2005, musae-facebook and sbm 20k; 2, 4 or 8
    // rows ahead no better than 1.
    if (yrow && r + 1 < r1) {
      const char* next = reinterpret_cast<const char*>(
          y + static_cast<std::ptrdiff_t>(yrow[r + 1]) * f + j - back);
      for (int q = 0; q < nv; ++q) __builtin_prefetch(next + 64 * q, 1, 3);
    }
    const float* xj = x + j - back;
    switch (nv) {
#define GEARBOX_PANEL_CASE(N)                                                    \
  case N:                                                                        \
    tile_row_512<N>(c, v, len, xj, f, yr, acc, first, last, pd, into_l2, avail); \
    break;
      GEARBOX_PANEL_CASE(1)
      GEARBOX_PANEL_CASE(2)
      GEARBOX_PANEL_CASE(3)
      GEARBOX_PANEL_CASE(4)
      GEARBOX_PANEL_CASE(5)
      GEARBOX_PANEL_CASE(6)
      GEARBOX_PANEL_CASE(7)
      GEARBOX_PANEL_CASE(8)
      GEARBOX_PANEL_CASE(9)
#undef GEARBOX_PANEL_CASE
    }
  }
}

// ---- AVX2 / FMA -----------------------------------------------------------------------------
// y[0:8 NV] (=|+=) sum_k v[k] x[c[k], 0:8 NV] with S partial sums per vector (entries
// alternate between them): S = 2 for short slices keeps enough FMAs in flight, S = 1 for the
// 64-float slice (8 accumulators; 16 would leave no registers for the loads).
// M: the first vector is masked by `first` and the last by `last` (lanes outside the masks are
// neither read nor written), for slices read from the 32-byte boundary below them.
// PF (S = 1 only): the slice's lines of the X row pd entries ahead (past this row too: c[len ..
// avail) are valid indices) prefetched into L1 (1) or L2 (2); 0 none. Branch-free, as the
// AVX-512 loop's.
template <int NV, int S, bool M, int PF = 0>
__attribute__((target("avx2,fma"))) void tile_row_256(const index_t* c, const float* v,
                                                      offset_t len, const float* x,
                                                      std::ptrdiff_t f, float* y, bool acc,
                                                      __m256i first, __m256i last, int pd = 0,
                                                      offset_t avail = 0) {
  static_assert(PF == 0 || S == 1, "prefetch only in the one-sum loop");
  const auto load = [first, last](const float* p, int i) {
    if constexpr (M) {
      if (i == 0) return _mm256_maskload_ps(p, first);
      if (i + 1 == NV) return _mm256_maskload_ps(p, last);
    }
    return _mm256_loadu_ps(p);
  };
  __m256 s[S][NV];
#pragma GCC unroll 16
  for (int i = 0; i < NV; ++i) {
    s[0][i] = acc ? load(y + 8 * i, i) : _mm256_setzero_ps();
    if constexpr (S == 2) s[1][i] = _mm256_setzero_ps();
  }
  offset_t k = 0;
  for (; k + S <= len; k += S) {
    if constexpr (PF != 0) {
      constexpr _mm_hint kHint = PF == 2 ? _MM_HINT_T1 : _MM_HINT_T0;
      const offset_t q = k + pd < avail ? k + pd : avail - 1;
      const char* p0 = reinterpret_cast<const char*>(x + static_cast<std::ptrdiff_t>(c[q]) * f);
#pragma GCC unroll 8
      for (int l = 0; l < NV / 2 + 1; ++l) _mm_prefetch(p0 + 64 * l, kHint);
    }
#pragma GCC unroll 2
    for (int p = 0; p < S; ++p) {
      const __m256 w = _mm256_broadcast_ss(v + k + p);
      const float* xr = x + static_cast<std::ptrdiff_t>(c[k + p]) * f;
#pragma GCC unroll 16
      for (int i = 0; i < NV; ++i) s[p][i] = _mm256_fmadd_ps(w, load(xr + 8 * i, i), s[p][i]);
    }
  }
  if (k < len) {
    const __m256 w = _mm256_broadcast_ss(v + k);
    const float* xr = x + static_cast<std::ptrdiff_t>(c[k]) * f;
#pragma GCC unroll 16
    for (int i = 0; i < NV; ++i) s[0][i] = _mm256_fmadd_ps(w, load(xr + 8 * i, i), s[0][i]);
  }
#pragma GCC unroll 16
  for (int i = 0; i < NV; ++i) {
    if constexpr (S == 2) s[0][i] = _mm256_add_ps(s[0][i], s[1][i]);
    if (M && i == 0)
      _mm256_maskstore_ps(y, first, s[0][i]);
    else if (M && i + 1 == NV)
      _mm256_maskstore_ps(y + 8 * i, last, s[0][i]);
    else
      _mm256_storeu_ps(y + 8 * i, s[0][i]);
  }
}

// Scalar columns [j, j + w) of one row (the AVX2 path's tail, and the scalar path).
void tile_row_scalar(const index_t* c, const float* v, offset_t len, const float* x,
                     std::ptrdiff_t f, float* y, bool acc, int w) {
  if (!acc) std::fill(y, y + w, 0.0f);
  for (offset_t k = 0; k < len; ++k) {
    const float* xr = x + static_cast<std::ptrdiff_t>(c[k]) * f;
    for (int q = 0; q < w; ++q) y[q] += v[k] * xr[q];
  }
}

// The AVX2 rows. When X's slice starts s floats past a 32-byte boundary (s != 0; f and w
// multiples of 8 keep s the same in every row and piece), half of the 32-byte loads of X would
// span two cache lines: each piece is then read from the boundary below it, as one more vector
// with the first and last masked, and Y at the matching unaligned offsets (as rows_512 does).
// Measured (levers bench, 2026-12-07 20:43 UTC, F = 128, 31 rounds, X and Y 16 bytes past a
// boundary): 1.22x faster than the unshifted loop on ego-facebook, 1.02-1.05x on cora, citeseer,
// musae-facebook and blogcatalog, level on pubmed; still 1.05-1.17x slower than with X and Y
// 64-byte aligned (the masked end loads, and one more vector per piece).
// A 64-float piece: tile_row_256<NV, 1, M> with the prefetch the caller asked for.
template <int NV, bool M>
__attribute__((target("avx2,fma"))) void piece64_256(const index_t* c, const float* v, offset_t len,
                                                     const float* x, std::ptrdiff_t f, float* y,
                                                     bool acc, __m256i first, __m256i last, int pd,
                                                     bool into_l2, offset_t avail) {
  if (pd > 0 && into_l2)
    tile_row_256<NV, 1, M, 2>(c, v, len, x, f, y, acc, first, last, pd, avail);
  else if (pd > 0)
    tile_row_256<NV, 1, M, 1>(c, v, len, x, f, y, acc, first, last, pd, avail);
  else
    tile_row_256<NV, 1, M>(c, v, len, x, f, y, acc, first, last);
}

__attribute__((target("avx2,fma"))) void rows_256(const Csr& a, index_t r0, index_t r1,
                                                  const float* x, int f, float* y,
                                                  const index_t* yrow, bool acc, int j, int w,
                                                  int pd, PrefetchInto into) {
  const bool into_l2 = resolve_prefetch_into(into, w) == PrefetchInto::kL2;
  const int s = static_cast<int>(reinterpret_cast<std::uintptr_t>(x + j) % 32 / 4);
  const bool shift = s != 0 && f % 8 == 0 && w % 8 == 0;
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i first = _mm256_cmpgt_epi32(lane, _mm256_set1_epi32(s - 1));  // lanes >= s
  const __m256i last = _mm256_cmpgt_epi32(_mm256_set1_epi32(s), lane);       // lanes < s
  const offset_t* rp = a.rowptr.data();
  for (index_t r = r0; r < r1; ++r) {
    const index_t* c = a.col.data() + rp[r];
    const float* v = a.val.data() + rp[r];
    const offset_t len = rp[r + 1] - rp[r], avail = a.nnz() - rp[r];
    float* yr = y + static_cast<std::ptrdiff_t>(yrow ? yrow[r] : r) * f + j;
    const float* xj = x + j;
    int q = 0;
    if (shift) {
      // Pieces of 64, 32, 16, 8 floats, each read from s floats before it.
      for (; q + 64 <= w; q += 64)
        piece64_256<9, true>(c, v, len, xj + q - s, f, yr + q - s, acc, first, last, pd, into_l2,
                             avail);
      if (q + 32 <= w) {
        tile_row_256<5, 1, true>(c, v, len, xj + q - s, f, yr + q - s, acc, first, last);
        q += 32;
      }
      if (q + 16 <= w) {
        tile_row_256<3, 2, true>(c, v, len, xj + q - s, f, yr + q - s, acc, first, last);
        q += 16;
      }
      if (q + 8 <= w)
        tile_row_256<2, 2, true>(c, v, len, xj + q - s, f, yr + q - s, acc, first, last);
      continue;
    }
    for (; q + 64 <= w; q += 64)
      piece64_256<8, false>(c, v, len, xj + q, f, yr + q, acc, first, last, pd, into_l2, avail);
    if (q + 32 <= w) {
      tile_row_256<4, 2, false>(c, v, len, xj + q, f, yr + q, acc, first, last);
      q += 32;
    }
    if (q + 16 <= w) {
      tile_row_256<2, 2, false>(c, v, len, xj + q, f, yr + q, acc, first, last);
      q += 16;
    }
    if (q + 8 <= w) {
      tile_row_256<1, 2, false>(c, v, len, xj + q, f, yr + q, acc, first, last);
      q += 8;
    }
    if (q < w) tile_row_scalar(c, v, len, xj + q, f, yr + q, acc, w - q);
  }
}

void rows_scalar(const Csr& a, index_t r0, index_t r1, const float* x, int f, float* y,
                 const index_t* yrow, bool acc, int j, int w) {
  const offset_t* rp = a.rowptr.data();
  for (index_t r = r0; r < r1; ++r)
    tile_row_scalar(a.col.data() + rp[r], a.val.data() + rp[r], rp[r + 1] - rp[r], x + j, f,
                    y + static_cast<std::ptrdiff_t>(yrow ? yrow[r] : r) * f + j, acc, w);
}

}  // namespace

void rows_slice(SimdLevel simd, const Csr& a, index_t r0, index_t r1, const float* x, int f,
                float* y, const index_t* yrow, bool acc, int j, int w, int prefetch,
                PrefetchInto into) {
  switch (simd) {
    case SimdLevel::kAvx512:
      rows_512(a, r0, r1, x, f, y, yrow, acc, j, w, prefetch, into);
      break;
    case SimdLevel::kAvx2:
      rows_256(a, r0, r1, x, f, y, yrow, acc, j, w, prefetch, into);
      break;
    case SimdLevel::kScalar:
      rows_scalar(a, r0, r1, x, f, y, yrow, acc, j, w);
      break;
  }
}

void rows_full(SimdLevel simd, const Csr& a, index_t r0, index_t r1, const float* x, int f,
               float* y, const index_t* yrow, bool acc, int prefetch, PrefetchInto into) {
  for (int j = 0; j < f; j += kRowSlice)
    rows_slice(simd, a, r0, r1, x, f, y, yrow, acc, j, std::min(kRowSlice, f - j), prefetch, into);
}

}  // namespace gearbox::gnn::detail
