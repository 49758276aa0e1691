// Runs a program from an argument vector (never a shell string) and captures what it printed:
// how the Slurm backend reaches sinfo, squeue, sbatch, scancel and scontrol. Unit tests give
// the backend a fake runner; everything else uses ProcessRunner.
#pragma once

#include <string>
#include <vector>

namespace gearbox::sched {

struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed by one; 124 when it ran past its time limit
  std::string out, err;
  bool started = true;  // false when the program could not be started at all
};

class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  // Runs argv[0] (looked up on PATH) with argv; stdin is /dev/null; stops it (SIGKILL) after
  // `timeout_s` seconds.
  virtual CommandResult run(const std::vector<std::string>& argv, double timeout_s) = 0;
};

// The real runner: posix_spawnp with pipes for stdout and stderr.
class ProcessRunner : public CommandRunner {
 public:
  CommandResult run(const std::vector<std::string>& argv, double timeout_s) override;
};

}  // namespace gearbox::sched
