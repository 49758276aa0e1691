// The scheduler core's one interface for policies, shared by the simulator and (later) a real
// cluster backend: each round a policy sees the active jobs (arrival order, with their current
// placement) and returns a target placement for each. Policies decide GPU type and count per
// job at the best locality; which nodes is the NodeAllocator's job.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gearbox/sched/throughput_table.hpp"

namespace gearbox::sched {

struct ActiveJob {
  int id = 0;     // stable job index (trace order)
  int shape = 0;  // ThroughputTable id
  int batch = 0;
  int req_gpus = 1;     // requested GPU count
  int req_pool = -1;    // requested GPU type's pool, -1 if the cluster lacks it
  double submit = 0;    // submission time
  double deadline = 0;  // absolute deadline after the artifact's rescaling
  double remaining_iters = 0;
  Placement current;  // where it runs now (not placed = pending)
};

struct RoundInput {
  double now = 0;  // simulated (or wall) clock at the round's start
  int round = 0;
  // True at a round's start (every 300 s); false for a pass the simulator runs at a departure
  // inside a round (round-counting policies, such as Gavel's, count only boundaries).
  bool boundary = true;
  const Cluster* cluster = nullptr;
  const ThroughputTable* table = nullptr;
  const std::vector<ActiveJob>* jobs = nullptr;  // pending and running, in arrival order
  bool arrivals = false;                         // jobs arrived since the last round
  bool departures = false;                       // jobs finished since the last round
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string name() const = 0;
  // True for Crius variants: restart costs min(10 s x GPUs, 40 s) (pruned plan search), else
  // min(150 s x GPUs, 600 s), as in the artifact.
  virtual bool pruned_restart() const { return false; }
  // Fills target[i] for jobs[i]: its placement for the coming round (not placed = pending).
  // target starts as each job's current placement. Per pool, placed GPUs must not exceed
  // the pool's GPUs.
  virtual void schedule(const RoundInput& in, std::vector<Placement>& target) = 0;
};

// "crius", "crius-dp", "fcfs", "gavel", "gavel-thr", "sia", "elasticflow"; throws Error::usage.
std::unique_ptr<Policy> make_policy(const std::string& name);
// The names make_policy accepts.
std::vector<std::string> policy_names();

// Free GPUs per pool after `target`.
std::vector<int> free_gpus(const Cluster& cluster, const std::vector<Placement>& target);
// The Cell of n GPUs of `pool` at its best locality.
Placement cell_of(const Cluster& cluster, int pool, int n);
// Restart overhead in seconds of (re)starting a job on n GPUs.
double restart_overhead(bool pruned, int gpus);

}  // namespace gearbox::sched
