// Block-sparse tiles with column compaction (the TC-GNN idea, applied to one subgraph): rows
// are cut into windows of kTileRows rows; the distinct columns a window touches are listed in
// ascending order and cut into groups of kTileCols, and each group becomes one dense
// kTileRows x kTileCols tile. A tile multiplies the kTileCols rows of X named by its columns
// on the tensor cores (TF32 m16n16k8), so no tile carries an all-zero column.
#pragma once

#include <vector>

#include "gearbox/gnn/csr.hpp"

namespace gearbox::gnn::cuda {

inline constexpr int kTileRows = 16;
inline constexpr int kTileCols = 8;

struct TilePlan {
  index_t rows = 0, cols = 0;
  std::vector<offset_t> window_ptr{0};  // windows + 1: window w owns tiles [ptr[w], ptr[w+1])
  std::vector<index_t> tile_col;        // kTileCols per tile: X row ids, -1 = padding
  std::vector<float> tile_val;          // kTileRows * kTileCols per tile, row-major

  index_t windows() const { return static_cast<index_t>(window_ptr.size()) - 1; }
  offset_t tiles() const { return window_ptr.back(); }
};

// The sorted distinct columns that rows [r0, r1) of `a` touch.
std::vector<index_t> window_columns(const Csr& a, index_t r0, index_t r1);

// The compacted tiles of `a` (every row of `a` lies in exactly one window; duplicate entries
// are summed into their tile slot).
TilePlan plan_tiles(const Csr& a);

// plan_tiles(a).tiles() without building the tiles: O(nnz), for cost models.
offset_t count_tiles(const Csr& a);

}  // namespace gearbox::gnn::cuda
