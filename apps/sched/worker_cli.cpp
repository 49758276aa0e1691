// `gearbox sched worker`: the emulated training job the Slurm backend runs for a Cell.
#include <algorithm>
#include <iostream>
#include <memory>

#include "gearbox/sched/emulated_worker.hpp"
#include "sched_commands.hpp"

namespace gearbox::apps::sched_cli {

void register_worker(CLI::App& sched) {
  auto spec = std::make_shared<gearbox::sched::WorkerSpec>();
  auto* cmd = sched.add_subcommand(
      "worker",
      "Emulated training job (run by the Slurm backend): iterations at a given pace, progress "
      "file, checkpoint every K iterations and on SIGUSR1 (then exit 0), resume from it");
  cmd->add_option("--iterations", spec->iterations, "Total iterations of the job")
      ->required()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--iter-seconds", spec->iter_seconds, "Wall seconds per iteration")
      ->required()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--checkpoint", spec->checkpoint, "Checkpoint file (iterations done)")
      ->required();
  cmd->add_option("--progress", spec->progress, "Progress file (iterations done)")->required();
  cmd->add_option("--checkpoint-every", spec->checkpoint_every,
                  "Iterations between periodic checkpoints (0 = only on USR1 and at the end)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([spec] {
    // The attempt's log says where it resumed (the fault tests read it).
    std::cerr << "sched worker: starting at "
              << std::min(gearbox::sched::read_iterations_file(spec->checkpoint), spec->iterations)
              << "/" << spec->iterations << " iterations" << std::endl;
    const long long done = gearbox::sched::run_emulated_worker(*spec);
    std::cerr << "sched worker: " << done << "/" << spec->iterations << " iterations"
              << (done < spec->iterations ? " (checkpointed, stopped)" : "") << "\n";
  });
}

}  // namespace gearbox::apps::sched_cli
