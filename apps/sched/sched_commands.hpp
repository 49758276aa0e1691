// The `gearbox sched` subcommands, one registration function per file.
#pragma once

#include <CLI/CLI.hpp>

namespace gearbox::apps::sched_cli {

// `gearbox sched cells --model M --batch B [--cluster C] [--json]`
void register_cells(CLI::App& sched);
// `gearbox sched estimate-check [--json]`
void register_estimate_check(CLI::App& sched);
// `gearbox sched simulate --trace T --cluster C --policy P,... [--estimator E] [--max-rounds N]`
void register_simulate(CLI::App& sched);
// `gearbox sched worker --iterations N --iter-seconds S --checkpoint P --progress P`
void register_worker(CLI::App& sched);
// `gearbox sched daemon --slurm --state S --listen H:P ...` and its clients
// `gearbox sched submit|jobs|cancel --url U`
void register_daemon(CLI::App& sched);
// `gearbox sched replay --url U --trace T [--jobs K] [--time-scale K] [--json]`
void register_replay(CLI::App& sched);

}  // namespace gearbox::apps::sched_cli
