// `gearbox sched ...`: the sched engine's commands.
#include "../commands.hpp"
#include "gearbox/sched/engine_info.hpp"
#include "sched_commands.hpp"

namespace gearbox::apps {

void register_sched(CLI::App& root) {
  auto* cmd = root.add_subcommand("sched", sched::engine_summary());
  cmd->require_subcommand(1);
  sched_cli::register_cells(*cmd);
  sched_cli::register_estimate_check(*cmd);
  sched_cli::register_simulate(*cmd);
  sched_cli::register_worker(*cmd);
  sched_cli::register_daemon(*cmd);
  sched_cli::register_replay(*cmd);
}

}  // namespace gearbox::apps
