// `gearbox gnn ...`: the gnn engine's commands.
#include "../commands.hpp"
#include "gearbox/gnn/engine_info.hpp"

namespace gearbox::apps {

void register_gnn(CLI::App& root) {
  auto* cmd = root.add_subcommand("gnn", gnn::engine_summary());
  cmd->require_subcommand(1);
}

}  // namespace gearbox::apps
