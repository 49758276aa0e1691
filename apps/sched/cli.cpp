// `gearbox sched ...`: the sched engine's commands.
#include "../commands.hpp"
#include "gearbox/sched/engine_info.hpp"

namespace gearbox::apps {

void register_sched(CLI::App& root) {
  auto* cmd = root.add_subcommand("sched", sched::engine_summary());
  cmd->require_subcommand(1);
}

}  // namespace gearbox::apps
