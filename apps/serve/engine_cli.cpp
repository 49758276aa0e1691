// Registers the serve engine commands (none yet).
#include "serve_commands.hpp"

namespace gearbox::apps {

void register_serve_engine_commands(CLI::App& serve) {
  (void)serve;
}

}  // namespace gearbox::apps
