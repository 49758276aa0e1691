// `gearbox serve ...`: the serve engine's commands.
#include "../commands.hpp"
#include "gearbox/serve/engine_info.hpp"

namespace gearbox::apps {

void register_serve(CLI::App& root) {
  auto* cmd = root.add_subcommand("serve", serve::engine_summary());
  cmd->require_subcommand(1);
}

}  // namespace gearbox::apps
