#include "gearbox/gnn/engine_info.hpp"

namespace gearbox::gnn {
const char* engine_summary() {
  return "AdaptGear GNN training: density-split graphs, per-subgraph kernels, adaptive selection";
}
}  // namespace gearbox::gnn
