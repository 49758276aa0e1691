// Block lists for the dense diagonal-block kernel: the blocks are grouped into runs of equal
// size and equal spacing, so that each run is one strided-batched GEMM call (cuBLAS), and the
// rows that no block covers are listed so that they can be zeroed when not accumulating.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "gearbox/gnn/csr.hpp"
#include "gearbox/gnn/density_split.hpp"

namespace gearbox::gnn::cuda {

// `count` blocks of `size` rows; block i of the run begins at row first_begin + i * stride
// and is blocks[first_block + i] of the list it was planned from.
struct BlockRun {
  index_t size = 0;
  index_t first_begin = 0;
  index_t stride = 0;  // rows between consecutive block starts (>= size; any value when count 1)
  int count = 0;
  std::size_t first_block = 0;
};

// Runs covering every non-empty block of `blocks` once, in order. Blocks must be sorted by
// begin and disjoint (Error::runtime otherwise). Greedy: a run grows while the next block has
// the same size and the same spacing.
std::vector<BlockRun> plan_block_runs(const std::vector<BlockInfo>& blocks);

// The maximal row ranges [first, second) of [0, rows) that no block covers, ascending.
std::vector<std::pair<index_t, index_t>> uncovered_ranges(const std::vector<BlockInfo>& blocks,
                                                          index_t rows);

}  // namespace gearbox::gnn::cuda
