// Sparse matrices of the gnn engine: COO (as read from files) and CSR (what kernels run on).
// Node ids and column indices are int32 (graphs up to 2^31-1 nodes); row offsets are int64
// (more than 2^31 nonzeros); values are float32.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace gearbox::gnn {

using index_t = std::int32_t;   // node id, row or column index
using offset_t = std::int64_t;  // position in the nonzero arrays

// Coordinate list: one (row, col, val) per entry, in any order, duplicates allowed.
struct Coo {
  index_t rows = 0, cols = 0;
  std::vector<index_t> row, col;
  std::vector<float> val;  // same length as row/col
};

// Compressed sparse rows with sorted, duplicate-free columns in each row.
struct Csr {
  index_t rows = 0, cols = 0;
  std::vector<offset_t> rowptr{0};  // rows + 1 entries
  std::vector<index_t> col;
  std::vector<float> val;
  offset_t nnz() const { return static_cast<offset_t>(col.size()); }
  offset_t degree(index_t r) const { return rowptr[r + 1] - rowptr[r]; }
};

// How coo_to_csr treats repeated (row, col) pairs.
enum class Duplicates { kSum, kKeepOne };

// Builds a CSR from a COO (counting sort by row, columns sorted within rows); O(nnz + rows).
Csr coo_to_csr(const Coo& coo, Duplicates dup = Duplicates::kSum);

// A^T as a CSR (rows and cols swapped).
Csr transpose(const Csr& a);

// The undirected simple graph of `a`: pattern of A + A^T without the diagonal, values 1.
// Requires a square matrix.
Csr symmetrize_pattern(const Csr& a);

// The undirected simple graph on n nodes with an edge for each pair (src[k], dst[k]): both
// directions, duplicates and self loops dropped, values 1, columns sorted. Parallel (OpenMP);
// the result does not depend on the thread count. Ids must be < n.
Csr undirected_from_pairs(index_t n, std::span<const index_t> src, std::span<const index_t> dst);

// P A P^T for a square A, where new_of_old[i] is the new id of node i (a permutation).
Csr permute_symmetric(const Csr& a, std::span<const index_t> new_of_old);

// Rows of `a` reordered: row new_of_old[i] of the result is row i of `a` (columns kept).
Csr permute_rows(const Csr& a, std::span<const index_t> new_of_old);

// GCN's normalised adjacency D^-1/2 (A + I) D^-1/2, with D the degrees of A + I.
Csr gcn_normalize(const Csr& a);

// Scales every row to sum 1 (rows summing to 0 are left as they are).
void normalize_rows(Csr& a);

// The inverse permutation of `p`.
std::vector<index_t> invert_permutation(std::span<const index_t> p);

// 64-bit FNV-1a-style checksum (over 8-byte words) of the structure and values (for caches and
// plan keys).
std::uint64_t checksum(const Csr& a);

}  // namespace gearbox::gnn
