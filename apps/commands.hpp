// Each top-level command registers its subcommands on the root app. One file per engine.
#pragma once

#include <CLI/CLI.hpp>

namespace gearbox::apps {

// `gearbox doctor`: what this build and machine are, and where data and models are found.
void register_doctor(CLI::App& root);
// `gearbox gnn ...`
void register_gnn(CLI::App& root);
// `gearbox sched ...`
void register_sched(CLI::App& root);
// `gearbox serve ...`
void register_serve(CLI::App& root);

}  // namespace gearbox::apps
