// The Slurm ClusterBackend: every attempt of a job is a NEW Slurm job pinned exactly to the
// nodes and GPUs the core chose (sbatch --nodelist, --gres=gpu:TYPE:N, one task per node, a
// unique name "crius-<job>-<attempt>" and comment "crius:<job>:<attempt>", requeue off), that
// runs the emulated worker (or the user's command) with the Cell in its environment.
// Preemption is SIGUSR1 to the batch step (the worker checkpoints and exits), then scancel
// after a grace period. A job's next attempt is submitted only once its previous one has ended
// in Slurm (start() defers it to a later poll until then), so no two attempts of a job ever
// run at once. poll() reads squeue once and turns attempts that ended into events: finished
// (progress reached the job's iterations), failed (ended short), lost (vanished from Slurm,
// its node failed, or its sbatch failed and Slurm has no job of its name); an attempt that
// ended short leaves the job's progress at its last checkpoint.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "gearbox/sched/cluster_backend.hpp"
#include "gearbox/sched/slurm_cli.hpp"
#include "gearbox/sched/throughput_table.hpp"

namespace gearbox::sched {

struct SlurmBackendOptions {
  std::string partition;               // empty: Slurm's default
  std::filesystem::path work_dir;      // job script, progress and checkpoint files, job output
  std::vector<std::string> worker;     // argv prefix of the emulated worker (gearbox sched worker)
  double time_scale = 1;               // wall seconds = estimated seconds / time_scale
  double grace_s = 5;                  // preemption: USR1, then cancel after this many seconds
  std::string name_prefix = "crius-";  // Slurm job names: <prefix><job>-<attempt>
};

// Where the backend records attempts durably (the daemon's StateStore): before_submit() runs
// BEFORE sbatch, so an attempt is never in Slurm without a record of it.
class AttemptJournal {
 public:
  virtual ~AttemptJournal() = default;
  virtual void before_submit(int job, int number, const SubmitRequest& request,
                             const Placement& placement) = 0;
  virtual void submitted(int job, int number, long long slurm_id) = 0;
  // "preempted", "finished", "failed" or "lost".
  virtual void ended(int job, int number, const std::string& state) = 0;
};

class SlurmBackend : public ClusterBackend {
 public:
  // Discovers the nodes (sinfo, those of the partition) and maps their GPU types to the
  // catalog; throws Error::input naming a node with an unknown type. Writes the job script.
  SlurmBackend(SlurmCli& cli, SlurmBackendOptions opt);

  // The table that prices iteration times for the worker: built on cluster(), outliving this.
  void set_table(const ThroughputTable* table) { table_ = table; }
  void set_journal(AttemptJournal* journal) { journal_ = journal; }
  // Batched submission: start() records the attempt (journal first) and queues its sbatch;
  // submit_pending() then runs the queued sbatch calls at once, several in parallel, so that a
  // round starting many jobs does not start the last one many sbatch latencies late. An sbatch
  // that fails every try leaves its attempt lost (the next poll reports it; the job is
  // rescheduled). Off by default: start() submits at once.
  void set_batch_submit(bool on) { batch_ = on; }
  void submit_pending();
  // Takes over an attempt already running in Slurm (a restarted daemon's reconciliation).
  void adopt(int job, int number, long long slurm_id, const Placement& placement,
             const std::vector<int>& nodes);
  // Registers a job: its total iterations and, if not empty, the user's command.
  // `attempts` = attempts the job already had (a restarted daemon's), so names stay unique.
  void admit(const ActiveJob& job, long long iterations, std::vector<std::string> command = {},
             int attempts = 0);
  // The job's attempt is lost (its node is down): cancelled at the next poll if Slurm still
  // has it, recorded "lost" once Slurm shows it ended. The job keeps its last checkpoint.
  void lose(int job, double now);
  // Forgets a job (it finished or was cancelled; its attempt must already be stopped).
  void forget(int job) { jobs_.erase(job); }

  const Cluster& cluster() const override { return discovered_.cluster; }
  std::vector<Attempt> running() const override;
  void start(const ActiveJob& job, const Placement& placement, const std::vector<int>& nodes,
             double now) override;
  void preempt(int job, double now) override;
  double remaining_iters(int job) const override;
  // Reads squeue once; `until` is the wall clock (seconds) for grace periods.
  std::vector<BackendEvent> poll(double until) override;
  // The same on `jobs`, squeue's output read by the caller.
  std::vector<BackendEvent> poll(double until, const std::vector<SlurmJob>& jobs);

  // Slurm node name of pool p's node k.
  const std::string& node_name(int pool, int node) const;
  // Slurm job id of the job's running attempt, or 0.
  long long slurm_id(int job) const;
  // Iterations the job's last checkpoint holds.
  long long checkpointed(int job) const;
  std::filesystem::path checkpoint_path(int job) const;
  std::filesystem::path progress_path(int job) const;

 private:
  struct JobInfo {
    long long iterations = 0;
    int batch = 0, shape = 0, attempts = 0;
    std::vector<std::string> command;
  };
  struct Running {
    Attempt attempt;         // number 0 while deferred
    long long slurm_id = 0;  // 0 while deferred or unconfirmed
    std::string name;        // Slurm job name once submitted
    bool deferred = false;   // waits for the job's previous attempt to end
  };
  struct Stopping {
    int job = -1, number = 0;
    long long slurm_id = 0;  // 0: sbatch failed, resolved by name at the next poll
    std::string name;
    double cancel_at = 0;
    bool cancelled = false;
    const char* end_state = "preempted";  // journaled once Slurm shows it ended
  };
  // Submits the job's deferred attempt `r` (its running_ entry); a failed sbatch leaves it
  // unconfirmed (slurm_id 0) for the next poll to resolve by name.
  void submit(int job, Running& r);
  bool stopping(int job) const;
  void stop(int job, double cancel_at, const char* end_state);
  // After an attempt ended short: the progress file falls back to the checkpoint.
  void rewind_progress(int job) const;

  SlurmCli& cli_;
  SlurmBackendOptions opt_;
  SlurmCluster discovered_;
  const ThroughputTable* table_ = nullptr;
  AttemptJournal* journal_ = nullptr;
  std::filesystem::path script_;
  std::map<int, JobInfo> jobs_;
  std::map<int, Running> running_;  // by job
  std::vector<Stopping> stopping_;
  struct Pending {
    int job = -1, number = 0;
    SubmitRequest request;
  };
  bool batch_ = false;
  std::vector<Pending> pending_;
};

}  // namespace gearbox::sched
