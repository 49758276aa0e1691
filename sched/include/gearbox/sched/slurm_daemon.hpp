// The long-running scheduler on a Slurm cluster: the scheduler core (a policy, the node
// allocator) over the Slurm backend, with its state in SQLite. Each round polls Slurm, settles
// ended attempts (finished; failed: retried up to a limit; lost: rescheduled), runs the policy
// and enacts only the difference. On start it reconciles the state with Slurm (adopts its
// running attempts, settles those that ended, reschedules vanished ones, cancels jobs of its
// own name prefix it has no record of). Each round also reads the nodes' states: a drained or
// down node leaves placement (its attempts are checkpointed and moved, or, on a down node,
// recorded lost and rescheduled) until Slurm shows it usable again. Thread-safe: the HTTP API calls
// submit/jobs/cancel while the loop runs rounds.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gearbox/core/output.hpp"
#include "gearbox/sched/estimator.hpp"
#include "gearbox/sched/round_cpu.hpp"
#include "gearbox/sched/scheduler_core.hpp"
#include "gearbox/sched/slurm_backend.hpp"
#include "gearbox/sched/state_store.hpp"

namespace gearbox::sched {

struct DaemonOptions {
  std::filesystem::path state;  // SQLite file
  std::string policy = "crius";
  double round_seconds = 5;  // wall seconds between rounds
  double time_scale = 1;     // estimated seconds per wall second
  std::string partition;
  std::vector<std::string> worker;  // argv prefix of `gearbox sched worker`
  int max_failures = 3;             // failed attempts before a job fails for good
  double grace_s = 5;
};

class SlurmDaemon : public AttemptJournal {
 public:
  // Opens the state, discovers the cluster and reconciles with Slurm. Throws Error.
  SlurmDaemon(const DaemonOptions& opt, SlurmCli& cli, const Estimator& est);
  ~SlurmDaemon() override;

  // POST /v1/jobs: {"model", "batch", "iterations", optional "gpus" (1), "gpu_type" (none:
  // the policy picks), "deadline" (seconds), "command" ([words])}. Throws Error::input naming the
  // field.
  Json submit(const Json& body);
  Json jobs() const;
  std::optional<Json> job(long long id) const;
  // DELETE: false when no such job; a finished job stays finished.
  bool cancel(long long id);
  std::string metrics() const;  // Prometheus text
  // GET /v1/cluster: the discovered pools (GPU type, nodes, GPUs per node, node names), the
  // policy, time scale, round and grace seconds.
  Json cluster_info() const;
  // One round (poll, decide, enact). Wall clock `now` in seconds. Slurm's jobs and nodes are
  // read before the lock is taken: while slurmctld is away those calls fail slowly (retries)
  // and the API keeps answering; the round then throws and changes nothing.
  void round(double now);

  // AttemptJournal (the backend calls these under the daemon's lock).
  void before_submit(int job, int number, const SubmitRequest& request,
                     const Placement& placement) override;
  void submitted(int job, int number, long long slurm_id) override;
  void ended(int job, int number, const std::string& state) override;

 private:
  Json job_json(const JobRow& j) const;
  void admit_row(const JobRow& j, int attempts, double now);
  void reconcile(double now);
  // Reads the nodes' states; takes nodes out of placement or back, moving jobs off them.
  // True when a node changed service.
  bool refresh_nodes(double now, const std::vector<SlurmNode>& nodes);
  double scaled(double wall) const;

  DaemonOptions opt_;
  SlurmCli& cli_;
  mutable std::mutex mu_;
  std::unique_ptr<StateStore> store_;
  std::string token_;
  std::unique_ptr<SlurmBackend> backend_;
  std::unique_ptr<ThroughputTable> table_;
  std::unique_ptr<Policy> policy_;
  std::unique_ptr<SchedulerCore> core_;
  double t0_ = 0;  // wall time the daemon started
  int round_ = 0;
  bool arrivals_ = false, departures_ = false;
  long long placements_changed_ = 0;
  std::vector<long long> to_cancel_;
  std::map<std::string, std::pair<int, int>> node_at_;  // Slurm node name -> (pool, node)
  std::map<std::string, std::string> node_state_;       // as last recorded
  RoundCpuStats round_cpu_;
};

}  // namespace gearbox::sched
