// The community-panel CSR kernel: rows are taken in panels (the diagonal blocks the reordering
// found, i.e. its communities); each row's entries outside its panel (random gathers from
// memory) are taken first for the whole panel, with software prefetch, then the entries
// inside (gathers from the panel's slice of X, which stays in L2: 256 rows of 128 floats are
// 128 KiB). Row mode (the default) takes the inside entries row by row in 128-float slices
// held in registers; tiled mode sweeps the panel once per tile of the feature dimension, the
// tile as wide as lets the panel's slice of X stay in L1 (measured slower: the repeated
// passes cost more than the L2 hits they avoid).
// Inner loops: kernel_rows.cpp (AVX-512, AVX2/FMA or scalar, chosen at construction).
#include <omp.h>

#include <algorithm>

#include "gearbox/gnn/kernels.hpp"
#include "kernel_rows.hpp"
#include "kernel_threads.hpp"

namespace gearbox::gnn {

namespace {

// Rows not covered by any block are cut into panels of this many rows.
constexpr index_t kGapPanel = 128;
// Widest tile: 4 AVX-512 vectors per row (with two partial sums each, 8 accumulators).
constexpr int kMaxTile = 64;
// Row mode (tile_bytes 0): a row's slice of up to 8 AVX-512 vectors (16 accumulators).
constexpr int kRowTile = detail::kRowSlice;

class PanelKernel final : public Kernel {
 public:
  PanelKernel(const Csr& a, const std::vector<BlockInfo>& blocks, SimdLevel simd,
              std::size_t tile_bytes, int prefetch, PrefetchInto into)
      : simd_(simd), tile_bytes_(tile_bytes), prefetch_(prefetch), into_(into) {
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
    detail::rows_slice(simd_, m, r0, r1, x, f, y, y_rows_.empty() ? nullptr : y_rows_.data(), acc,
                       j, w, pd, into_);
  }

  SimdLevel simd_;
  std::size_t tile_bytes_;
  int prefetch_;       // AVX-512 and AVX2 paths: prefetch distance in entries (0: none)
  PrefetchInto into_;  // and the cache it prefetches into
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

PrefetchInto resolve_prefetch_into(PrefetchInto into, int width) {
  if (into != PrefetchInto::kAuto) return into;
  static const bool amd = [] {
    __builtin_cpu_init();
    return __builtin_cpu_is("amd") != 0;
  }();
  return amd && width >= kL2PrefetchMinWidth ? PrefetchInto::kL2 : PrefetchInto::kL1;
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
                                          int prefetch, PrefetchInto into) {
  // A level the CPU lacks would fault: fall back to the best one it has.
  if (static_cast<int>(simd) > static_cast<int>(best_simd())) simd = best_simd();
  return std::make_unique<PanelKernel>(*s.a, s.blocks, simd, tile_bytes, prefetch, into);
}

}  // namespace gearbox::gnn
