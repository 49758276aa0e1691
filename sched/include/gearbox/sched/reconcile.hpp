// What a restarted Slurm daemon does with the attempts its state says are open, given what
// squeue shows now: adopt those still in Slurm, settle those that ended while it was away, mark
// lost those Slurm never had or forgot (the job is rescheduled), and cancel `crius-` jobs it has
// no record of. Attempts are matched by their unique name, so an attempt whose sbatch answered
// after the daemon died is adopted, never submitted again.
#pragma once

#include <vector>

#include "gearbox/sched/slurm_cli.hpp"
#include "gearbox/sched/state_store.hpp"

namespace gearbox::sched {

struct ReconcilePlan {
  std::vector<std::pair<AttemptRow, SlurmJob>> adopt;  // still pending or running in Slurm
  std::vector<std::pair<AttemptRow, SlurmJob>> ended;  // ended while the daemon was away
  std::vector<AttemptRow> lost;                        // not in Slurm (never submitted, forgotten)
  std::vector<long long> cancel;  // active crius- jobs without a record (Slurm ids)
};

// `known` = every attempt name the state holds (open or closed); `open` = open attempts.
ReconcilePlan reconcile(const std::vector<AttemptRow>& open, const std::vector<std::string>& known,
                        const std::vector<SlurmJob>& slurm);

// True for Slurm states in which a job still holds or waits for resources.
bool slurm_job_active(const std::string& state);

}  // namespace gearbox::sched
