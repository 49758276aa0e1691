// The job the Slurm backend runs when the user gives no command: an emulated training job of
// the Cell it was placed on. It runs iterations at a given time per iteration (the estimator's
// for the Cell, divided by the time scale), records its progress, checkpoints every few
// iterations and on SIGUSR1 (then exits 0: a preemption), and resumes from its checkpoint.
#pragma once

#include <filesystem>

namespace gearbox::sched {

struct WorkerSpec {
  long long iterations = 0;          // total iterations of the job
  double iter_seconds = 0;           // wall seconds per iteration
  std::filesystem::path checkpoint;  // iterations done, durable (read at start, if present)
  std::filesystem::path progress;    // iterations done, updated every iteration
  int checkpoint_every = 10;         // iterations between periodic checkpoints
};

// Iterations done as recorded in a checkpoint or progress file; 0 when absent. Throws
// Error::input naming the file when it holds something else.
long long read_iterations_file(const std::filesystem::path& path);
// Writes `done` to `path` atomically (temporary file, then rename).
void write_iterations_file(const std::filesystem::path& path, long long done);

// Runs the job; returns the iterations done when it stopped (== iterations when finished).
// Installs a SIGUSR1 handler for its duration.
long long run_emulated_worker(const WorkerSpec& spec);

}  // namespace gearbox::sched
