// The trace-driven simulator: rounds every 300 s as in the artifact (jobs
// arrive in their submission round; the policy decides at each round's start
// and, unless round_only, again at every departure inside the round, at its
// time; node placement by the NodeAllocator), with progress priced per event
// inside a round: a job never starts before its submission time (it may enter
// the round up to 300 s early); a (re)started job first pays its restart
// overhead (carried as debt into later rounds when above 300 s), then advances
// at the iteration time of the best plan for its placement; a job finishes at
// the exact second its last iteration ends. Deterministic: no randomness, ties
// broken by job order.
#pragma once

#include <string>
#include <vector>

#include "gearbox/sched/constants.hpp"
#include "gearbox/sched/estimator.hpp"
#include "gearbox/sched/policy.hpp"
#include "gearbox/sched/trace.hpp"

namespace gearbox::sched {

// Longest simulation in 300 s rounds (about 19 years): what the simulator keeps per round (one
// throughput sample) and its run time are bounded by it, whatever the trace asks for.
inline constexpr int kMaxSimRounds = 2 * kMaxTraceRounds;

struct SimOptions {
  int max_rounds = 0;  // stop after this many rounds (0 = run to completion); <= horizon_rounds
  // Run to completion within this many rounds, else Error::input: before simulating, for a job
  // whose iterations on its fastest placement alone take longer (field num_iteration); while
  // simulating, when the trace has not finished by then (queueing behind other jobs).
  int horizon_rounds = kMaxSimRounds;
  // Schedule only at round boundaries, as the artifact's simulator does; by
  // default a departure inside a round triggers a scheduling pass at its time
  // (the paper's events).
  bool round_only = false;
  // Round length in seconds (the artifact's 300 s; a replay passes its daemon's round, wall
  // seconds x time scale): jobs arrive in rounds of this length and policies run at its
  // boundaries.
  double round_s = kSchedulingInterval;
  // Seconds each start pays on top of the restart overhead (a real cluster's submission to
  // running latency, scaled; 0 in the artifact's model).
  double start_latency_s = 0;
};

struct SimResult {
  std::string policy;
  int jobs = 0, arrived = 0, finished = 0;
  double avg_jct_s = 0, p50_jct_s = 0, p99_jct_s = 0;
  double avg_queue_s = 0;     // time spent pending (arrived jobs, finished or not)
  double makespan_s = 0;      // first submission round to last finish (or to the stop)
  double avg_throughput = 0;  // mean of per-round cluster samples/s above 100 (artifact rule)
  double peak_throughput = 0;
  double gpu_util = 0;        // allocated GPU-time / (GPUs x simulated time)
  double deadline_met = 0;    // share of arrived jobs finished by their (rescaled) deadline
  long long reschedules = 0;  // placement changes of running jobs (resize, move, preempt)
  long long migrations = 0;   // of which node moves for defragmentation
  int rounds = 0;
  double sim_wall_s = 0;
  double sched_ms_per_round = 0;         // policy + node allocation time per round it ran
  double sched_ms_max_pass = 0;          // the longest scheduling pass (wall)
  double sched_cpu_ms_max_pass = 0;      // the most CPU one pass took
  std::vector<double> round_throughput;  // per simulated round (samples/s)
  std::vector<double> jcts;              // finished jobs, in finish order
  std::vector<double> job_jct;           // per trace job: its JCT, or -1 if it did not finish
  bool stalled = false;  // ended with jobs placed where they cannot run (kMaxStalledRounds)
};

// Per-job figures the run metrics need: when it arrived (and if), how long it waited unplaced,
// when it finished (-1: not) and its (rescaled) deadline.
struct JobOutcome {
  double queue_s = 0;
  double finish = -1;
  double deadline = 0;
  bool arrived = false;
};

// Fills res's summary figures (JCT mean/p50/p99 from res.jcts, queue, deadlines met, makespan
// from t0, throughput from res.round_throughput, GPU utilisation) from per-job outcomes, the
// GPU-seconds held, the cluster's GPUs and the round length; res.jobs, arrived, finished,
// rounds and jcts must be set. Shared by the simulator and a measured replay.
void fill_run_metrics(SimResult& res, const std::vector<JobOutcome>& jobs, double t0,
                      double busy_gpu_s, double total_gpus, double round_s = kSchedulingInterval);

// Rounds without any progress (everything arrived, placed jobs cannot run, no
// departures) after which a simulation ends instead of running forever.
inline constexpr int kMaxStalledRounds = 100;

// Averages over job sets the policies of one run share (job_jct of each result,
// same trace): common = mean JCT over the jobs every policy finished (0 if
// none); padded = the artifact's plot rule: each policy's finished JCTs padded
// up to the largest finished count of any policy with the largest JCT any
// policy recorded.
struct CrossPolicyJct {
  std::vector<double> avg_jct_common_s,
      avg_jct_padded_s;  // per result, in order
  int common_jobs = 0;
};
CrossPolicyJct cross_policy_jct(const std::vector<SimResult>& results);

// Throws Error::input (field num_iteration, naming the job) when a job of `trace` alone, on its
// fastest placement on `cluster`, would run longer than `horizon_rounds` rounds; simulate()
// checks this itself before running to completion (callers may check before printing).
void check_trace_fits_horizon(const Trace& trace, const Cluster& cluster, const Estimator& est,
                              int horizon_rounds = kMaxSimRounds);

// Runs `policy` over `trace` on `cluster`, pricing jobs with `est`. Throws Error::usage when
// opt.max_rounds exceeds opt.horizon_rounds, Error::input as SimOptions::horizon_rounds says.
SimResult simulate(const Trace& trace, const Cluster& cluster, const Estimator& est, Policy& policy,
                   const SimOptions& opt = {});

}  // namespace gearbox::sched
