// The community-panel CSR kernel: rows are taken in panels (the diagonal blocks the reordering
// found, i.e. its communities); each row's entries outside its panel (random gathers from
// memory) are taken first for the whole panel, with software prefetch, then the entries
// inside (gathers from the panel's slice of X, which stays in L2: 256 rows of 128 floats are
// 128 KiB). Row mode (the default) takes the inside entries row by row in 128-float slices
// held in registers; tiled mode sweeps the panel once per tile of the feature dimension, the
// tile as wide as lets the panel's slice of X stay in L1 (measured slower: the repeated
// passes cost more than the L2 hits they avoid).
// Inner loops: AVX-512 (16 floats, masked tails) or AVX2/FMA, chosen at run time, each with
// two partial sums per vector so that short tiles still keep enough FMAs in flight.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "gearbox/gnn/kernels.hpp"
#include "kernel_row_simd.hpp"

namespace gearbox::gnn {

namespace {

// Rows not covered by any block are cut into panels of this many rows.
constexpr index_t kGapPanel = 128;
// Widest tile: 4 AVX-512 vectors per row (with two partial sums each, 8 accumulators).
constexpr int kMaxTile = 64;
// Row mode (tile_bytes 0): a row's slice of up to 8 AVX-512 vectors (16 accumulators).
constexpr int kRowTile = 128;

// ---- AVX-512 --------------------------------------------------------------------------------
// y[0:w] (=|+=) sum_k v[k] x[c[k], 0:w], w <= 16 * NV, the first vector masked by `first` and
// the last by `last` (lanes outside the masks are neither read nor written).
// PF: software prefetch of the X rows pd entries ahead (the tile's lines of each), also past
// this row into the next rows' entries (c[len .. avail) are valid indices), clamped to the
// last one. The prefetch is branch-free: with a branch in the loop GCC 12 kept the
// accumulators in memory (a load and a store around every FMA, measured 1.5x slower).
template <int NV, bool PF>
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
    if constexpr (PF) {
      const offset_t q = k + pd < avail - 1 ? k + pd : avail - 2;
      const float* p0 = x + static_cast<std::ptrdiff_t>(c[q]) * f;
      const float* p1 = x + static_cast<std::ptrdiff_t>(c[q + 1]) * f;
#pragma GCC unroll 16
      for (int i = 0; i < NV; ++i) {
        _mm_prefetch(reinterpret_cast<const char*>(p0 + 16 * i), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(p1 + 16 * i), _MM_HINT_T0);
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
                                                     int pd, offset_t avail) {
  if (pd > 0 && avail >= 2)
    tile_row_512<NV, true>(c, v, len, x, f, y, acc, first, last, pd, avail);
  else
    tile_row_512<NV, false>(c, v, len, x, f, y, acc, first, last, pd, avail);
}

// One panel [r0, r1), columns [j, j + w) of every row.
// When the slice starts off a 64-byte boundary by the same d floats in X and Y rows (as
// std::vector's 16-byte alignment gives; f a multiple of 16 keeps it the same in every row),
// every load would span two cache lines: the slice is then taken as w / 16 + 1 vectors from
// the boundary below it, the first masked to lanes >= d and the last to lanes < d (measured:
// X at a 64-byte boundary made this kernel 1.18x faster on sbm 200k/256).
__attribute__((target("avx512f"))) void panel_tile_512(const Csr& a, index_t r0, index_t r1,
                                                       const float* x, int f, float* y,
                                                       const index_t* yrow, bool acc, int j, int w,
                                                       int pd) {
  const auto xa = reinterpret_cast<std::uintptr_t>(x + j) % 64;
  const auto ya = reinterpret_cast<std::uintptr_t>(y + j) % 64;
  const int d = static_cast<int>(xa / 4);
  const bool shift = xa != 0 && xa == ya && xa % 4 == 0 && f % 16 == 0 && w % 16 == 0 && w <= 128;
  const int nv = shift ? w / 16 + 1 : (w + 15) / 16;
  const __mmask16 first = shift ? static_cast<__mmask16>(0xffffu << d) : __mmask16(0xffff);
  const __mmask16 last = shift ? static_cast<__mmask16>((1u << d) - 1u)
                               : static_cast<__mmask16>((1u << (w - 16 * (nv - 1))) - 1u);
  const int back = shift ? d : 0;  // the slice is read and written from `back` floats before it
  const offset_t* rp = a.rowptr.data();
  for (index_t r = r0; r < r1; ++r) {
    const index_t* c = a.col.data() + rp[r];
    const float* v = a.val.data() + rp[r];
    const offset_t len = rp[r + 1] - rp[r], avail = a.nnz() - rp[r];
    float* yr = y + static_cast<std::ptrdiff_t>(yrow ? yrow[r] : r) * f + j - back;
    const float* xj = x + j - back;
    switch (nv) {
#define GEARBOX_PANEL_CASE(N)                                           \
  case N:                                                               \
    tile_row_512<N>(c, v, len, xj, f, yr, acc, first, last, pd, avail); \
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
template <int NV>
__attribute__((target("avx2,fma"))) void tile_row_256(const index_t* c, const float* v,
                                                      offset_t len, const float* x,
                                                      std::ptrdiff_t f, float* y, bool acc) {
  __m256 s0[NV], s1[NV];
  for (int i = 0; i < NV; ++i) {
    s0[i] = acc ? _mm256_loadu_ps(y + 8 * i) : _mm256_setzero_ps();
    s1[i] = _mm256_setzero_ps();
  }
  offset_t k = 0;
  for (; k + 2 <= len; k += 2) {
    const __m256 w0 = _mm256_broadcast_ss(v + k), w1 = _mm256_broadcast_ss(v + k + 1);
    const float* x0 = x + static_cast<std::ptrdiff_t>(c[k]) * f;
    const float* x1 = x + static_cast<std::ptrdiff_t>(c[k + 1]) * f;
    for (int i = 0; i < NV; ++i) {
      s0[i] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x0 + 8 * i), s0[i]);
      s1[i] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x1 + 8 * i), s1[i]);
    }
  }
  if (k < len) {
    const __m256 w0 = _mm256_broadcast_ss(v + k);
    const float* x0 = x + static_cast<std::ptrdiff_t>(c[k]) * f;
    for (int i = 0; i < NV; ++i) s0[i] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x0 + 8 * i), s0[i]);
  }
  for (int i = 0; i < NV; ++i) _mm256_storeu_ps(y + 8 * i, _mm256_add_ps(s0[i], s1[i]));
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

__attribute__((target("avx2,fma"))) void panel_tile_256(const Csr& a, index_t r0, index_t r1,
                                                        const float* x, int f, float* y,
                                                        const index_t* yrow, bool acc, int j,
                                                        int w) {
  const offset_t* rp = a.rowptr.data();
  for (index_t r = r0; r < r1; ++r) {
    const index_t* c = a.col.data() + rp[r];
    const float* v = a.val.data() + rp[r];
    const offset_t len = rp[r + 1] - rp[r];
    float* yr = y + static_cast<std::ptrdiff_t>(yrow ? yrow[r] : r) * f + j;
    const float* xj = x + j;
    int q = 0;
    for (; q + 32 <= w; q += 32) tile_row_256<4>(c, v, len, xj + q, f, yr + q, acc);
    if (q + 16 <= w) {
      tile_row_256<2>(c, v, len, xj + q, f, yr + q, acc);
      q += 16;
    }
    if (q + 8 <= w) {
      tile_row_256<1>(c, v, len, xj + q, f, yr + q, acc);
      q += 8;
    }
    if (q < w) tile_row_scalar(c, v, len, xj + q, f, yr + q, acc, w - q);
  }
}

void panel_tile_scalar(const Csr& a, index_t r0, index_t r1, const float* x, int f, float* y,
                       const index_t* yrow, bool acc, int j, int w) {
  const offset_t* rp = a.rowptr.data();
  for (index_t r = r0; r < r1; ++r)
    tile_row_scalar(a.col.data() + rp[r], a.val.data() + rp[r], rp[r + 1] - rp[r], x + j, f,
                    y + static_cast<std::ptrdiff_t>(yrow ? yrow[r] : r) * f + j, acc, w);
}

class PanelKernel final : public Kernel {
 public:
  PanelKernel(const Csr& a, const std::vector<BlockInfo>& blocks, SimdLevel simd,
              std::size_t tile_bytes, int prefetch)
      : simd_(simd), tile_bytes_(tile_bytes), prefetch_(prefetch) {
    // Panels: the blocks in row order, the rows between them in panels of kGapPanel.
    std::vector<BlockInfo> sorted(blocks);
    std::sort(sorted.begin(), sorted.end(),
              [](const BlockInfo& p, const BlockInfo& q) { return p.begin < q.begin; });
    index_t at = 0;
    const auto gap = [&](index_t to) {
      for (; at < to; at = std::min(to, at + kGapPanel))
        panels_.push_back({at, std::min(to, at + kGapPanel)});
    };
    for (const auto& b : sorted) {
      if (b.begin < at || b.end > a.rows || b.size() <= 0) continue;  // overlapping: skip
      gap(b.begin);
      panels_.push_back({b.begin, b.end});
      at = b.end;
    }
    gap(a.rows);
    // Each row's entries split into those inside its own panel (gathered from the panel's
    // cached slice of X, tile by tile) and those outside (gathered whole-row, once).
    for (Csr* m : {&in_, &out_}) {
      m->rows = a.rows;
      m->cols = a.cols;
      m->rowptr.assign(static_cast<std::size_t>(a.rows) + 1, 0);
    }
    for (const auto& [r0, r1] : panels_)
      for (index_t r = r0; r < r1; ++r) {
        for (offset_t k = a.rowptr[r]; k < a.rowptr[r + 1]; ++k) {
          Csr& m = a.col[k] >= r0 && a.col[k] < r1 ? in_ : out_;
          m.col.push_back(a.col[k]);
          m.val.push_back(a.val[k]);
        }
        in_.rowptr[r + 1] = in_.nnz();
        out_.rowptr[r + 1] = out_.nnz();
      }
  }

  void run(const float* x, int f, float* y, bool acc) const override {
    const int np = static_cast<int>(panels_.size());
    const offset_t work = (in_.nnz() + out_.nnz() + in_.rows) * f;
#pragma omp parallel for schedule(dynamic, 1) if (detail::worth_threads(work))
    for (int p = 0; p < np; ++p) {
      const auto [r0, r1] = panels_[p];
      // Outside entries first, row by row at full width: this writes (or adds to) every row.
      // Row mode (tile_bytes 0): slices of kRowTile floats, else kMaxTile.
      const int wide = std::min(f, tile_bytes_ == 0 ? kRowTile : kMaxTile);
      for (index_t r = r0; r < r1; ++r)
        for (int j = 0; j < f; j += wide)
          tile(out_, r, r + 1, x, f, y, acc, j, std::min(wide, f - j), prefetch_);
      // Then the inside entries, one feature tile at a time over the whole panel.
      if (in_.rowptr[r1] == in_.rowptr[r0]) continue;
      const int ft = tile_bytes_ == 0 ? wide : tile_width(r1 - r0, f, tile_bytes_);
      // Row mode prefetches only the outside entries (the inside ones hit L2; their prefetches
      // would only take load slots).
      const int pd_in = tile_bytes_ == 0 ? 0 : prefetch_;
      for (int j = 0; j < f; j += ft)
        tile(in_, r0, r1, x, f, y, true, j, std::min(ft, f - j), pd_in);
    }
  }
  const char* name() const override {
    return "panel";
  }
  std::size_t format_bytes() const override {
    return panels_.size() * 8 + (in_.rowptr.size() + out_.rowptr.size()) * 8 +
           (in_.col.size() + out_.col.size()) * 8 + y_rows_.size() * 4;
  }
  // Panels and the inside/outside split stay those of the planned order (the communities);
  // only the X rows read and the Y rows written are mapped. A panel's slice of X is then a
  // set of scattered rows, but each tile of a row is still whole cache lines, so the slice
  // takes the same L1 space.
  std::unique_ptr<Kernel> in_caller_order(const std::vector<index_t>& old_of_new) const override {
    if (!y_rows_.empty() || static_cast<index_t>(old_of_new.size()) != in_.rows) return nullptr;
    auto k = std::make_unique<PanelKernel>(*this);
    k->in_ = remap_columns(in_, old_of_new);
    k->out_ = remap_columns(out_, old_of_new);
    k->y_rows_ = old_of_new;
    return k;
  }

  // The tile width for a panel of `rows` rows: the widest multiple of 16 floats whose slice of
  // X fits tile_bytes, at most kMaxTile (the registers of one row) and f.
  // When not even a 16-float slice fits, tiling cannot reach L1: the panel is swept once,
  // kMaxTile wide (fewer passes, more FMAs in flight; measured 1.3x over 16-float tiles on
  // 1024-node communities).
  static int tile_width(index_t rows, int f, std::size_t tile_bytes) {
    const std::size_t fit = tile_bytes / (std::max<index_t>(1, rows) * sizeof(float));
    if (fit < 16) return std::min(f, kMaxTile);
    const int w = std::clamp<int>(static_cast<int>(std::min<std::size_t>(fit, kMaxTile) / 16 * 16),
                                  16, kMaxTile);
    return std::min(w, f);
  }

 private:
  void tile(const Csr& m, index_t r0, index_t r1, const float* x, int f, float* y, bool acc, int j,
            int w, int pd) const {
    const index_t* yrow = y_rows_.empty() ? nullptr : y_rows_.data();
    switch (simd_) {
      case SimdLevel::kAvx512:
        panel_tile_512(m, r0, r1, x, f, y, yrow, acc, j, w, pd);
        break;
      case SimdLevel::kAvx2:
        panel_tile_256(m, r0, r1, x, f, y, yrow, acc, j, w);
        break;
      case SimdLevel::kScalar:
        panel_tile_scalar(m, r0, r1, x, f, y, yrow, acc, j, w);
        break;
    }
  }

  SimdLevel simd_;
  std::size_t tile_bytes_;
  int prefetch_;  // AVX-512 path: prefetch distance in entries (0: none)
  std::vector<std::pair<index_t, index_t>> panels_;
  Csr in_, out_;                 // entries inside / outside their row's panel
  std::vector<index_t> y_rows_;  // empty: row r is written to Y row r, else to y_rows_[r]
};

}  // namespace

SimdLevel best_simd() {
  static const SimdLevel level = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return SimdLevel::kAvx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SimdLevel::kAvx2;
    return SimdLevel::kScalar;
  }();
  return level;
}

const char* simd_name(SimdLevel s) {
  switch (s) {
    case SimdLevel::kAvx512:
      return "avx512";
    case SimdLevel::kAvx2:
      return "avx2";
    case SimdLevel::kScalar:
      return "scalar";
  }
  return "?";
}

std::unique_ptr<Kernel> make_panel_kernel(const Subgraph& s, SimdLevel simd, std::size_t tile_bytes,
                                          int prefetch) {
  // A level the CPU lacks would fault: fall back to the best one it has.
  if (static_cast<int>(simd) > static_cast<int>(best_simd())) simd = best_simd();
  return std::make_unique<PanelKernel>(*s.a, s.blocks, simd, tile_bytes, prefetch);
}

}  // namespace gearbox::gnn
