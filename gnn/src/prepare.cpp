#include "gearbox/gnn/prepare.hpp"

#include "gearbox/core/stats.hpp"

namespace gearbox::gnn {

PreparedGraph prepare_graph(const std::string& graph, ReorderMethod method, int max_block,
                            std::uint64_t seed, bool features, std::uint64_t bytes_per_node) {
  PreparedGraph p;
  LoadOptions lo;
  lo.features = features;
  lo.bytes_per_node = bytes_per_node;
  p.data = load_dataset(graph, lo);
  p.order = compute_ordering(p.data.adj, method, max_block, seed);
  Stopwatch sw;
  if (method != ReorderMethod::kNone) permute_dataset(p.data, p.order.new_of_old);
  p.permute_seconds = sw.seconds();
  sw.reset();
  p.ahat = gcn_normalize(p.data.adj);
  p.normalize_seconds = sw.seconds();
  return p;
}

}  // namespace gearbox::gnn
