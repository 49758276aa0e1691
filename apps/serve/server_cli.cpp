// Registers the serve server commands (none yet).
#include "serve_commands.hpp"

namespace gearbox::apps {

void register_serve_server_commands(CLI::App& serve) {
  (void)serve;
}

}  // namespace gearbox::apps
