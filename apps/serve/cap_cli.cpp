// Registers the serve cap commands (none yet).
#include "serve_commands.hpp"

namespace gearbox::apps {

void register_serve_cap_commands(CLI::App& serve) {
  (void)serve;
}

}  // namespace gearbox::apps
