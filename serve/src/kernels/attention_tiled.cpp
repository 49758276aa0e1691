// Tiled attention with an online softmax (the FlashAttention recurrence on the CPU): a task is
// a tile of up to kTokenTile new tokens (and, in decode on several threads, a share of the
// rows); it walks the visible cached rows in tiles of kRowTile, and per KV head scores every
// query of the tile against the row tile (read once, from cache, for all of them), rescales
// their running maximum, sum and output, and adds the tile's weighted V rows with a
// register-blocked product. Long prefills read each K/V row once per token tile instead of
// once per token; decode reads each row once, whole rows prefetched a tile ahead.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "attention_rows.hpp"

namespace gearbox::serve::attn {

#if defined(__AVX2__) && defined(__FMA__)

namespace {

constexpr int kTokenTile = 16;
constexpr int kRowTile = 64;

// e^x for x <= 0 (a score minus the running maximum): Cody-Waite reduction to
// r in [-ln2/2, ln2/2] and a degree-6 polynomial, relative error about 2e-7; x < -87 gives 0.
inline __m256 exp_nonpositive(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.0f);
  const __m256 underflow = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_max_ps(x, lo);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(underflow, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

// Online-softmax step for one query over a tile's scores p[0 .. nv) (nv >= 1): turns them
// into e^(s - m_new) in place, zeroes p[nv .. width), and returns the factor by which the
// query's previous sum and output must be scaled. Updates m and l.
inline float softmax_step(float* p, int nv, int width, float& m, float& l) {
  float mx = m;
  for (int r = 0; r < nv; ++r) mx = p[r] > mx ? p[r] : mx;
  const float corr = std::exp(m - mx);  // m = -inf on the first tile: 0
  const __m256 mv = _mm256_set1_ps(mx);
  __m256 acc = _mm256_setzero_ps();
  int r = 0;
  for (; r + 8 <= nv; r += 8) {
    const __m256 e = exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(p + r), mv));
    _mm256_storeu_ps(p + r, e);
    acc = _mm256_add_ps(acc, e);
  }
  float sum = 0;
  for (; r < nv; ++r) sum += (p[r] = std::exp(p[r] - mx));
  for (; r < width; ++r) p[r] = 0;
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  for (float x : lanes) sum += x;
  l = l * corr + sum;
  m = mx;
  return corr;
}

// o[i][d0 .. d0 + 8*NV) += sum over r < nr of p[i][r] * v[r][koff + d0 ...] for MR queries:
// MR x NV accumulators stay in registers across the tile's rows.
template <int MR, int NV, class T>
void pv_block(const float* p, std::size_t p_stride, const T* const* v, std::size_t koff, int nr,
              int d0, float* o, std::size_t o_stride) {
  __m256 acc[MR][NV];
  for (int i = 0; i < MR; ++i)
    for (int c = 0; c < NV; ++c)
      acc[i][c] = _mm256_loadu_ps(o + i * o_stride + static_cast<std::size_t>(d0) + 8 * c);
  for (int r = 0; r < nr; ++r) {
    const T* vr = v[r] + koff + d0;
    __m256 x[NV];
    for (int c = 0; c < NV; ++c) x[c] = load8(vr + 8 * c);
    for (int i = 0; i < MR; ++i) {
      const __m256 w = _mm256_broadcast_ss(p + i * p_stride + r);
      for (int c = 0; c < NV; ++c) acc[i][c] = _mm256_fmadd_ps(w, x[c], acc[i][c]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int c = 0; c < NV; ++c)
      _mm256_storeu_ps(o + i * o_stride + static_cast<std::size_t>(d0) + 8 * c, acc[i][c]);
}

template <int MR, class T>
void pv_rows(const float* p, std::size_t p_stride, const T* const* v, std::size_t koff, int nr,
             int hd, float* o, std::size_t o_stride) {
  int d0 = 0;
  for (; d0 + 16 <= hd; d0 += 16) pv_block<MR, 2>(p, p_stride, v, koff, nr, d0, o, o_stride);
  if (d0 < hd) pv_block<MR, 1>(p, p_stride, v, koff, nr, d0, o, o_stride);
}

// All m queries' outputs (rows of o) += p . V_tile, four queries at a time.
template <class T>
void pv_tile(const float* p, std::size_t p_stride, const T* const* v, std::size_t koff, int nr,
             int hd, int m, float* o, std::size_t o_stride) {
  int i = 0;
  for (; i + 4 <= m; i += 4)
    pv_rows<4>(p + i * p_stride, p_stride, v, koff, nr, hd, o + i * o_stride, o_stride);
  switch (m - i) {
    case 3:
      return pv_rows<3>(p + i * p_stride, p_stride, v, koff, nr, hd, o + i * o_stride, o_stride);
    case 2:
      return pv_rows<2>(p + i * p_stride, p_stride, v, koff, nr, hd, o + i * o_stride, o_stride);
    case 1:
      return pv_rows<1>(p + i * p_stride, p_stride, v, koff, nr, hd, o + i * o_stride, o_stride);
    default:
      return;
  }
}

// Prefetches whole cached rows (every KV head's slice of K and V): a task walks a row tile
// head by head, so the later heads find the rows in cache.
template <class T>
void prefetch_rows(const T* const* k, const T* const* v, int n, int kv_dim) {
  constexpr int kPerLine = 64 / static_cast<int>(sizeof(T));
  for (int r = 0; r < n; ++r)
    for (int d = 0; d < kv_dim; d += kPerLine) {
      __builtin_prefetch(k[r] + d);
      __builtin_prefetch(v[r] + d);
    }
}

// The running state of one task's queries: max, sum and unnormalised output per query.
struct Partial {
  std::vector<float> m, l, o;
  void reset(int n_queries, int hd) {
    m.assign(static_cast<std::size_t>(n_queries), -std::numeric_limits<float>::infinity());
    l.assign(static_cast<std::size_t>(n_queries), 0.0f);
    o.assign(static_cast<std::size_t>(n_queries) * hd, 0.0f);
  }
};

// Rows of the visible range each task of a token tile walks: decode (one token tile) on
// several threads splits the rows so every thread has work (flash-decoding); the splits'
// partial states are merged after.
int row_splits(int n_tiles, int n_rows, int n_threads) {
  if (n_threads <= 1 || n_tiles >= 2 * n_threads) return 1;
  const int by_threads = (2 * n_threads + n_tiles - 1) / n_tiles;
  const int by_rows = std::max(1, n_rows / (4 * kRowTile));
  return std::min(by_threads, by_rows);
}

template <class T>
void tiled(const AttentionShape& s, const float* q, int n_q, const RowsOf<T>& rows, float* out) {
  const int n_rows = static_cast<int>(rows.k.size());
  const int hd = s.head_dim, group = s.n_head / s.n_head_kv, kv_dim = s.n_head_kv * hd;
  const std::size_t qd = static_cast<std::size_t>(s.n_head) * hd;
  const int n_tiles = (n_q + kTokenTile - 1) / kTokenTile;
  const int n_split = row_splits(n_tiles, n_rows, omp_in_parallel() ? 1 : omp_get_max_threads());
  const int tasks = n_tiles * n_split;
  // Query i of a task is (KV head g, token t, head h of the group) at i = (g*nt + t)*group + h,
  // so the queries of one KV head are consecutive rows of the weights and outputs.
  std::vector<Partial> parts(n_split > 1 ? static_cast<std::size_t>(tasks) : 0);
#pragma omp parallel if (tasks > 1 && !omp_in_parallel())
  {
    std::vector<float> p(static_cast<std::size_t>(kTokenTile) * s.n_head * kRowTile);
    Partial own;
#pragma omp for schedule(dynamic, 1)
    for (int task = 0; task < tasks; ++task) {
      const int tile = task / n_split, split = task % n_split;
      const int t0 = tile * kTokenTile, nt = std::min(kTokenTile, n_q - t0);
      const int per_g = nt * group;
      Partial& st = n_split > 1 ? parts[static_cast<std::size_t>(task)] : own;
      st.reset(per_g * s.n_head_kv, hd);
      // Token t0 + t sees rows [0, first_visible + t).
      const int first_visible = n_rows - n_q + t0 + 1;
      const int end = std::clamp(first_visible + nt - 1, 0, n_rows);
      const int tiles_in_range = (end + kRowTile - 1) / kRowTile;
      const int row_begin = tiles_in_range * split / n_split * kRowTile;
      const int row_end = std::min(end, tiles_in_range * (split + 1) / n_split * kRowTile);
      for (int j0 = row_begin; j0 < row_end; j0 += kRowTile) {
        const int nr = std::min(kRowTile, row_end - j0);
        const T* const* kt = rows.k.data() + j0;
        const T* const* vt = rows.v.data() + j0;
        if (j0 + kRowTile < row_end)
          prefetch_rows(kt + kRowTile, vt + kRowTile, std::min(kRowTile, row_end - j0 - kRowTile),
                        kv_dim);
        for (int g = 0; g < s.n_head_kv; ++g) {
          const std::size_t koff = static_cast<std::size_t>(g) * hd;
          float* pg = p.data() + static_cast<std::size_t>(g) * per_g * kRowTile;
          for (int t = 0; t < nt; ++t) {
            const int nv = std::clamp(first_visible + t - j0, 0, nr);
            float* pt = pg + static_cast<std::size_t>(t) * group * kRowTile;
            if (nv == 0) {
              std::fill(pt, pt + static_cast<std::size_t>(group) * kRowTile, 0.0f);
              continue;
            }
            const float* qg = q + static_cast<std::size_t>(t0 + t) * qd + koff * group;
            scores_any(group, qg, kt, koff, nv, nv, hd, s.scale, pt, kRowTile);
            for (int h = 0; h < group; ++h) {
              const std::size_t i = static_cast<std::size_t>(g * per_g + t * group + h);
              const float corr = softmax_step(pt + static_cast<std::size_t>(h) * kRowTile, nv, nr,
                                              st.m[i], st.l[i]);
              if (corr != 1.0f)
                for (int d = 0; d < hd; ++d) st.o[i * hd + static_cast<std::size_t>(d)] *= corr;
            }
          }
          pv_tile(pg, kRowTile, vt, koff, nr, hd, per_g,
                  st.o.data() + static_cast<std::size_t>(g) * per_g * hd,
                  static_cast<std::size_t>(hd));
        }
      }
      if (n_split > 1) continue;
      for (int g = 0; g < s.n_head_kv; ++g)
        for (int t = 0; t < nt; ++t)
          for (int h = 0; h < group; ++h) {
            const std::size_t i = static_cast<std::size_t>(g * per_g + t * group + h);
            const float inv = st.l[i] > 0 ? 1.0f / st.l[i] : 0.0f;
            float* dst = out + static_cast<std::size_t>(t0 + t) * qd +
                         static_cast<std::size_t>(g * group + h) * hd;
            for (int d = 0; d < hd; ++d) dst[d] = st.o[i * hd + static_cast<std::size_t>(d)] * inv;
          }
    }
  }
  if (n_split == 1) return;
  // Merge the splits of each token tile: rescale each to the largest running maximum.
  for (int tile = 0; tile < n_tiles; ++tile) {
    const int t0 = tile * kTokenTile, nt = std::min(kTokenTile, n_q - t0), per_g = nt * group;
    for (int g = 0; g < s.n_head_kv; ++g)
      for (int t = 0; t < nt; ++t)
        for (int h = 0; h < group; ++h) {
          const std::size_t i = static_cast<std::size_t>(g * per_g + t * group + h);
          float mx = -std::numeric_limits<float>::infinity();
          for (int sp = 0; sp < n_split; ++sp)
            mx = std::max(mx, parts[static_cast<std::size_t>(tile * n_split + sp)].m[i]);
          float* dst = out + static_cast<std::size_t>(t0 + t) * qd +
                       static_cast<std::size_t>(g * group + h) * hd;
          std::fill(dst, dst + hd, 0.0f);
          float l = 0;
          for (int sp = 0; sp < n_split; ++sp) {
            const Partial& pt = parts[static_cast<std::size_t>(tile * n_split + sp)];
            if (pt.l[i] == 0) continue;
            const float f = std::exp(pt.m[i] - mx);
            l += pt.l[i] * f;
            for (int d = 0; d < hd; ++d) dst[d] += pt.o[i * hd + static_cast<std::size_t>(d)] * f;
          }
          const float inv = l > 0 ? 1.0f / l : 0.0f;
          for (int d = 0; d < hd; ++d) dst[d] *= inv;
        }
  }
}

}  // namespace

bool tiled_supported(const AttentionShape& s, KvElem) {
  return s.head_dim % 8 == 0 && s.n_head_kv > 0 && s.n_head % s.n_head_kv == 0;
}

void attention_tiled(const AttentionShape& s, const float* q, int n_q, const Rows& rows,
                     float* out) {
  tiled(s, q, n_q, rows, out);
}

void attention_tiled(const AttentionShape& s, const float* q, int n_q, const Rows16& rows,
                     float* out) {
  tiled(s, q, n_q, rows, out);
}

#else  // no AVX2/FMA: the per-token kernel in attention.cpp serves every call

bool tiled_supported(const AttentionShape&, KvElem) {
  return false;
}
void attention_tiled(const AttentionShape&, const float*, int, const Rows&, float*) {}
void attention_tiled(const AttentionShape&, const float*, int, const Rows16&, float*) {}

#endif

}  // namespace gearbox::serve::attn
