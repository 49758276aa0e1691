// `gearbox gnn ...`: the gnn engine's commands (plan, train, bench).
#include "../commands.hpp"
#include "gearbox/gnn/engine_info.hpp"
#include "gnn_commands.hpp"

namespace gearbox::apps {

void register_gnn(CLI::App& root) {
  auto* cmd = root.add_subcommand("gnn", gnn::engine_summary());
  cmd->require_subcommand(1);
  register_gnn_plan(*cmd);
  register_gnn_train(*cmd);
  register_gnn_bench(*cmd);
}

}  // namespace gearbox::apps
