// The density split of AdaptGear: after reordering, the diagonal blocks of the normalised
// adjacency are classed by density (dense, medium, sparse); dense and medium blocks go to
// their own subgraphs, and everything else (sparse blocks and all off-diagonal entries) forms
// the sparse remainder. A report gives the density distribution and the share of nonzeros
// landing in each class.
#pragma once

#include <array>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gearbox/gnn/csr.hpp"

namespace gearbox::gnn {

enum class DensityClass { kDense = 0, kMedium = 1, kSparse = 2 };
inline constexpr int kDensityClasses = 3;
const char* density_class_name(DensityClass c);

// One diagonal block [begin, end) x [begin, end).
struct BlockInfo {
  index_t begin = 0, end = 0;
  offset_t nnz = 0;  // entries inside the block
  index_t size() const { return end - begin; }
  double density() const {
    const double s = static_cast<double>(size());
    return s > 0 ? static_cast<double>(nnz) / (s * s) : 0.0;
  }
};

// Per-block statistics of `a` for the blocks given by `starts` (0 = starts[0] < ... = n).
std::vector<BlockInfo> diagonal_blocks(const Csr& a, const std::vector<index_t>& starts);

// Thresholds on block density: >= dense_min is dense, >= medium_min is medium, else sparse.
struct SplitThresholds {
  double dense_min = 0.25;
  double medium_min = 0.05;
  DensityClass classify(double density) const {
    return density >= dense_min    ? DensityClass::kDense
           : density >= medium_min ? DensityClass::kMedium
                                   : DensityClass::kSparse;
  }
};

// The three subgraphs; each is an n x n CSR holding only its entries, so that they sum to `a`.
struct DensitySplit {
  std::array<Csr, kDensityClasses> part;
  std::array<std::vector<BlockInfo>, kDensityClasses> blocks;  // blocks of each class
  const Csr& of(DensityClass c) const { return part[static_cast<int>(c)]; }
  const std::vector<BlockInfo>& blocks_of(DensityClass c) const {
    return blocks[static_cast<int>(c)];
  }
};

// Splits `a` by classing each block with `th`.
DensitySplit split_by_density(const Csr& a, const std::vector<BlockInfo>& blocks,
                              const SplitThresholds& th);

// Community recovery: of the off-diagonal entries (i, j) of `a` whose endpoints share a
// community in `community` (one id per node, in a's order; < 0 = unknown), the share that lies
// inside a diagonal block. 1 when the blocks hold the planted communities whole; -1 when no
// such entry exists or `community` does not have one id per node.
double intra_community_share(const Csr& a, const std::vector<BlockInfo>& blocks,
                             const std::vector<std::int32_t>& community);

// The report: block count, density histogram (block counts and nnz per density bucket), share
// of nnz inside diagonal blocks, and per class under `th`.
nlohmann::json density_report(const Csr& a, const std::vector<BlockInfo>& blocks,
                              const SplitThresholds& th);

}  // namespace gearbox::gnn
