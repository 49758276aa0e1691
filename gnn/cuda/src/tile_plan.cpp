// Column-compacted 16 x 8 tiles of a subgraph (TC-GNN's condensing, per row window).
#include "gearbox/gnn/cuda/tile_plan.hpp"

#include <algorithm>

namespace gearbox::gnn::cuda {

std::vector<index_t> window_columns(const Csr& a, index_t r0, index_t r1) {
  std::vector<index_t> cols(a.col.begin() + a.rowptr[r0], a.col.begin() + a.rowptr[r1]);
  std::sort(cols.begin(), cols.end());
  cols.erase(std::unique(cols.begin(), cols.end()), cols.end());
  return cols;
}

TilePlan plan_tiles(const Csr& a) {
  TilePlan p;
  p.rows = a.rows;
  p.cols = a.cols;
  const index_t windows = (a.rows + kTileRows - 1) / kTileRows;
  p.window_ptr.reserve(static_cast<std::size_t>(windows) + 1);
  const auto total = static_cast<std::size_t>(count_tiles(a));  // one pass: no regrowth copies
  p.tile_col.reserve(total * kTileCols);
  p.tile_val.reserve(total * kTileRows * kTileCols);
  // seen[c] = window + 1 when column c was met in this window; slot[c] its compacted position.
  std::vector<index_t> seen(static_cast<std::size_t>(a.cols), 0),
      slot(static_cast<std::size_t>(a.cols), 0);
  std::vector<index_t> cols;
  for (index_t w = 0; w < windows; ++w) {
    const index_t r0 = w * kTileRows, r1 = std::min<index_t>(a.rows, r0 + kTileRows);
    cols.clear();
    for (offset_t k = a.rowptr[r0]; k < a.rowptr[r1]; ++k)
      if (seen[a.col[k]] != w + 1) {
        seen[a.col[k]] = w + 1;
        cols.push_back(a.col[k]);
      }
    std::sort(cols.begin(), cols.end());
    for (std::size_t i = 0; i < cols.size(); ++i) slot[cols[i]] = static_cast<index_t>(i);
    const offset_t first = p.window_ptr.back();
    const offset_t ntiles = (static_cast<offset_t>(cols.size()) + kTileCols - 1) / kTileCols;
    p.tile_col.resize(static_cast<std::size_t>(first + ntiles) * kTileCols, -1);
    p.tile_val.resize(static_cast<std::size_t>(first + ntiles) * kTileRows * kTileCols, 0.0f);
    std::copy(cols.begin(), cols.end(), p.tile_col.begin() + first * kTileCols);
    for (index_t r = r0; r < r1; ++r)
      for (offset_t k = a.rowptr[r]; k < a.rowptr[r + 1]; ++k) {
        const index_t pos = slot[a.col[k]];
        const offset_t tile = first + pos / kTileCols;
        p.tile_val[static_cast<std::size_t>(tile) * kTileRows * kTileCols +
                   static_cast<std::size_t>(r - r0) * kTileCols + pos % kTileCols] += a.val[k];
      }
    p.window_ptr.push_back(first + ntiles);
  }
  return p;
}

offset_t count_tiles(const Csr& a) {
  std::vector<index_t> seen(static_cast<std::size_t>(a.cols), 0);
  offset_t tiles = 0;
  for (index_t w = 0; w * kTileRows < a.rows; ++w) {
    const index_t r1 = std::min<index_t>(a.rows, (w + 1) * kTileRows);
    offset_t distinct = 0;
    for (offset_t k = a.rowptr[w * kTileRows]; k < a.rowptr[r1]; ++k)
      if (seen[a.col[k]] != w + 1) {
        seen[a.col[k]] = w + 1;
        ++distinct;
      }
    tiles += (distinct + kTileCols - 1) / kTileCols;
  }
  return tiles;
}

}  // namespace gearbox::gnn::cuda
