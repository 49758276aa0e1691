// A replay checks the simulator against a real cluster: a trace's first jobs are submitted to a
// sched daemon at their time-scaled arrival times, and the run's metrics, measured from the
// daemon's job records, are put beside the simulator's prediction for the same jobs, cluster,
// policy, round length and scale. This file holds the parts that need no daemon: the job
// subset, the measured metrics (computed by the simulator's own metrics code) and the
// side-by-side document.
#pragma once

#include <string>
#include <vector>

#include "gearbox/core/output.hpp"
#include "gearbox/sched/cluster.hpp"
#include "gearbox/sched/simulator.hpp"
#include "gearbox/sched/trace.hpp"

namespace gearbox::sched {

// The first `k` jobs of `trace` in file order (all of them when k <= 0 or k exceeds the count),
// with the trace's name, t0 and submission rounds.
Trace first_jobs(const Trace& trace, int k);

// The summary figures of a run (simulated or measured) as `gearbox sched simulate --json`
// prints them per policy, without the cross-policy averages.
Json run_metrics_json(const SimResult& r);

// What a daemon's job record (GET /v1/jobs/{id}) says about one replayed job, in wall seconds.
struct MeasuredJob {
  double submitted = 0;   // the daemon accepted it
  double finished = -1;   // its last iteration ended (-1: did not finish)
  double until = 0;       // when the record was read (the replay's end, for an unfinished job)
  double deadline = 0;    // relative to submission, trace seconds (0: none)
  double run_s = 0;       // wall seconds its attempts ran (started to ended, or to now)
  double busy_gpu_s = 0;  // run_s x GPUs of each attempt
  int attempts = 0;
  int preemptions = 0;  // attempts that ended "preempted"
  std::string state;
};

// Reads a daemon job record; `now` (wall) closes attempts still open. Throws Error::input
// naming the field when the record lacks one.
MeasuredJob measured_job(const Json& record, double now);

// The measured run as a SimResult: JCT, queue (JCT minus running time), deadlines (rescaled
// as the core does), makespan from the first submission, GPU utilisation, reschedules
// (preemptions) and finished counts, in trace seconds (wall x time_scale). Throughput is not
// measured (left 0). `round_s` is the daemon's round in trace seconds.
SimResult measured_result(const std::vector<MeasuredJob>& jobs, const std::string& policy,
                          double time_scale, double total_gpus, double round_s);

// {"figure": {"measured": m, "simulated": s, "ratio": m/s or null}} for every figure of
// run_metrics_json that both runs have (a figure not measured is skipped).
Json compare_runs(const SimResult& measured, const SimResult& simulated);

// The cluster a daemon reports at GET /v1/cluster ({"pools": [{"gpu", "nodes",
// "gpus_per_node"}, ...]}). Throws Error::input naming the field.
Cluster cluster_from_json(const Json& doc);

}  // namespace gearbox::sched
