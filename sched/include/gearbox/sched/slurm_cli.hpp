// Slurm through its command-line tools (stable across releases, unlike libslurm's ABI):
// sinfo --json for nodes and their typed GPUs, squeue --json for jobs, sbatch --parsable for
// a submission pinned to exact nodes and GPUs, scancel for signals and cancellation, scontrol
// for node state. Every call goes through a CommandRunner with an argument vector; a failed call
// is retried with exponential backoff, and calls, retries, failures and latency are counted.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "gearbox/sched/cluster.hpp"
#include "gearbox/sched/command_runner.hpp"

namespace gearbox::sched {

struct SlurmNode {
  std::string name;
  std::string state;     // base state, lower case: "idle", "mixed", "allocated", "down", ...
  bool drained = false;  // DRAIN / DRAINING / DRAINED flag or state
  std::string gpu_type;  // from gres "gpu:TYPE:N"
  int gpus = 0;
  std::vector<std::string> partitions;
  bool usable() const;  // up and not drained: may receive new attempts
};

struct SlurmJob {
  long long id = 0;
  std::string name, comment;
  std::string state;  // "PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", ...
  int exit_code = 0;
  std::string nodes;  // hostlist expression ("a100-[0-1]")
};

// Parses `sinfo --json` output; `origin` names it in errors (Error::input naming the field;
// Error::runtime when the output carries Slurm's own "errors", as when slurmctld is away).
std::vector<SlurmNode> parse_sinfo_json(std::string_view text, const std::string& origin);
// Parses `squeue --json` output.
std::vector<SlurmJob> parse_squeue_json(std::string_view text, const std::string& origin);

// The cluster Slurm's nodes form: one pool per GPU type (its nodes, in name order, and GPUs
// per node), types mapped to the hardware catalog. `node_names[p][k]` is pool p's node k.
// Throws Error::input naming the node for an unknown GPU type, a node without typed GPUs, or
// nodes of one type with different GPU counts.
struct SlurmCluster {
  Cluster cluster;
  std::vector<std::vector<std::string>> node_names;
};
SlurmCluster cluster_from_nodes(const std::vector<SlurmNode>& nodes);

// A submission pinned exactly: hosts x per_host GPUs of `gpu_type` on `nodes`.
struct SubmitRequest {
  std::string name;     // unique: "crius-<job>-<attempt>"
  std::string comment;  // "crius:<job>:<attempt>"
  std::string partition;
  std::vector<std::string> nodes;
  std::string gpu_type;
  int per_host = 0;
  std::string output;  // batch script's stdout/stderr file
  std::string script;  // a fixed batch script that runs its arguments: job_script_text()
  std::vector<std::pair<std::string, std::string>> env;  // set for the command (via env(1))
  std::vector<std::string> command;                      // what the job runs
};
// The sbatch argument vector for `r`: options, then the script and, as its arguments,
// `env NAME=value ... command...` (no shell string is ever built). Requeue is off.
std::vector<std::string> sbatch_argv(const SubmitRequest& r);
// The batch script's fixed text: "#!/bin/sh\nexec \"$@\"\n" (signals reach the command).
const char* job_script_text();

struct RetryPolicy {
  int attempts = 4;            // tries per call
  double first_delay_s = 0.2;  // then doubled
  double timeout_s = 30;       // per try
};

struct SlurmCallStats {
  long long calls = 0, retries = 0, failures = 0;  // failures: calls that failed every try
  double seconds = 0;                              // wall time in the tools
};

class SlurmCli {
 public:
  SlurmCli(CommandRunner& runner, RetryPolicy retry = {});

  std::vector<SlurmNode> nodes();
  std::vector<SlurmJob> jobs();  // all jobs squeue knows (pending, running, recently ended)
  long long submit(const SubmitRequest& r);           // the Slurm job id
  void signal(long long id, const std::string& sig);  // to the batch script only
  void cancel(long long id);
  void drain(const std::string& node, const std::string& reason);
  void resume(const std::string& node);

  // A copy of the counters (calls may run on several threads: submit() is thread-safe when the
  // runner is).
  SlurmCallStats stats() const {
    std::lock_guard<std::mutex> lock(stats_mu_);
    return stats_;
  }

 private:
  // Adds to the counters under their lock.
  void count(long long calls, long long retries, long long failures, double seconds);
  // Runs argv with retries; throws Error::runtime with the last stderr when every try failed.
  // A try that exits 0 fails too when `accept` (given its stdout) throws Error.
  CommandResult call(const std::vector<std::string>& argv,
                     const std::function<void(const std::string&)>& accept = {});
  CommandRunner& runner_;
  RetryPolicy retry_;
  mutable std::mutex stats_mu_;
  SlurmCallStats stats_;
};

}  // namespace gearbox::sched
