// The serve subcommands, grouped by the concern that owns them.
#pragma once

#include <CLI/CLI.hpp>

namespace gearbox::apps {

// generate, perplexity (engine_cli.cpp)
void register_serve_engine_commands(CLI::App& serve);
// cap-eval (cap_cli.cpp)
void register_serve_cap_commands(CLI::App& serve);
// run, bench (server_cli.cpp)
void register_serve_server_commands(CLI::App& serve);

}  // namespace gearbox::apps
