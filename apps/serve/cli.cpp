// `gearbox serve ...`: the serving engine's commands, registered by concern.
#include "../commands.hpp"
#include "gearbox/serve/engine_info.hpp"
#include "serve_commands.hpp"

namespace gearbox::apps {

void register_serve(CLI::App& root) {
  auto* cmd = root.add_subcommand("serve", serve::engine_summary());
  cmd->require_subcommand(1);
  register_serve_engine_commands(*cmd);
  register_serve_cap_commands(*cmd);
  register_serve_server_commands(*cmd);
}

}  // namespace gearbox::apps
