// Node reorderings that make communities contiguous, so that the normalised adjacency gets
// dense diagonal blocks: METIS k-way partitioning, label propagation (built in, fast), degree
// order, and none. Each returns the permutation and the block boundaries it suggests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gearbox/gnn/csr.hpp"

namespace gearbox::gnn {

enum class ReorderMethod { kNone, kDegree, kLabelProp, kMetis };

// "none", "degree", "lp", "metis"; Error::usage otherwise.
ReorderMethod parse_reorder(const std::string& s);
const char* reorder_name(ReorderMethod m);

struct Ordering {
  ReorderMethod method = ReorderMethod::kNone;
  std::vector<index_t> new_of_old;    // permutation: node i becomes new_of_old[i]
  std::vector<index_t> block_starts;  // diagonal block boundaries in the new order: 0 ... n
  int communities = 0;                // communities found (before cutting into blocks)
  double seconds = 0;                 // time the reordering took
};

// Computes an ordering of the (symmetric) graph `adj`. Blocks hold at most `max_block` nodes;
// for lp and metis they follow the communities found (see ordering_from_parts).
Ordering compute_ordering(const Csr& adj, ReorderMethod method, int max_block, std::uint64_t seed);

// Label propagation communities: each node repeatedly takes the label most frequent among its
// neighbours (visiting chunks of 256 ids in a seeded random order; ties to the current label,
// else to the smallest hash of (node, label)), until < 0.1% change or `max_iters`. Only nodes
// whose neighbours changed are re-evaluated. Returns a label per node.
std::vector<index_t> label_propagation(const Csr& adj, int max_iters, std::uint64_t seed);

// Groups nodes by `part` (parts ordered by first appearance, nodes by id within a part) and
// makes the blocks from the parts: a part of >= 32 nodes is its own block (cut into
// near-equal pieces of at most max_block), runs of smaller parts are merged into blocks of at
// most min(max_block, 256) nodes.
Ordering ordering_from_parts(const std::vector<index_t>& part, int max_block);

}  // namespace gearbox::gnn
