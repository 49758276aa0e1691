// The preparation every gnn command shares: load the dataset, reorder it (timed separately,
// a one-off cost), and build the GCN-normalised adjacency with its diagonal blocks.
#pragma once

#include <string>

#include "gearbox/gnn/dataset.hpp"
#include "gearbox/gnn/reorder.hpp"

namespace gearbox::gnn {

struct PreparedGraph {
  Dataset data;    // permuted into the ordering's node order
  Ordering order;  // the reordering applied (order.seconds = its cost)
  Csr ahat;        // D^-1/2 (A+I) D^-1/2 in the new order
  double permute_seconds = 0, normalize_seconds = 0;
};

// Loads `graph` and applies `method` (max_block: largest diagonal block). `bytes_per_node`:
// what the caller will allocate per node (features, activations), checked against memory with
// the node count before the graph is built (LoadOptions::bytes_per_node).
PreparedGraph prepare_graph(const std::string& graph, ReorderMethod method, int max_block,
                            std::uint64_t seed, bool features, std::uint64_t bytes_per_node = 0);

}  // namespace gearbox::gnn
