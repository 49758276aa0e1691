#include "gearbox/sched/simulator.hpp"

#include <algorithm>
#include <cmath>

#include "gearbox/core/error.hpp"
#include "gearbox/core/stats.hpp"
#include "gearbox/sched/scheduler_core.hpp"
#include "gearbox/sched/sim_backend.hpp"

namespace gearbox::sched {

namespace {
// The simulation's state between its steps.
struct SimLoop {
  const Trace& trace;
  const Cluster& cluster;
  const SimOptions& opt;
  ThroughputTable table;
  SchedulerCore core;
  SimBackend backend;
  std::vector<JobOutcome> jobs;
  SimResult& res;
  std::size_t next_arrival = 0;
  bool departures = false;  // jobs finished since the last pass
  int round = 0;

  SimLoop(const Trace& t, const Cluster& c, const Estimator& est, Policy& policy,
          const SimOptions& o, SimResult& r)
      : trace(t),
        cluster(c),
        opt(o),
        table(c, est),
        core(c, table, policy),
        backend(c, table, policy.pruned_restart()),
        jobs(t.jobs.size()),
        res(r) {
    backend.set_round_seconds(o.round_s);
    backend.set_start_latency(o.start_latency_s);
  }

  // Arrivals of this round (submission round <= round). Returns true if any
  // arrived.
  bool arrivals(double now) {
    bool any = false;
    while (next_arrival < trace.jobs.size() && trace.jobs[next_arrival].round <= round) {
      const int id = static_cast<int>(next_arrival);
      const ActiveJob& a = core.admit(id, trace.jobs[next_arrival], now);
      backend.admit(a);
      jobs[next_arrival].arrived = true;
      jobs[next_arrival].deadline = a.deadline;
      any = true;
      ++res.arrived;
      ++next_arrival;
    }
    return any;
  }

  // Progress over [seg, seg_end): pending jobs queue, the backend runs the
  // placed ones; its departures leave the core. Sets `departures`.
  void progress(double seg, double seg_end) {
    for (const auto& a : core.active())
      if (!a.current.placed()) jobs[static_cast<std::size_t>(a.id)].queue_s += seg_end - seg;
    std::vector<int> gone;
    for (const auto& e : backend.poll(seg_end)) {
      if (e.kind != BackendEvent::Kind::kFinished) continue;
      JobOutcome& r = jobs[static_cast<std::size_t>(e.job)];
      r.finish = e.time;
      res.jcts.push_back(r.finish - trace.jobs[static_cast<std::size_t>(e.job)].submit);
      res.job_jct[static_cast<std::size_t>(e.job)] = res.jcts.back();
      gone.push_back(e.job);
      ++res.finished;
    }
    core.depart(gone);
    core.sync_progress(backend);
    departures = !gone.empty();
  }

  // One round: arrivals, then a scheduling pass at its start and (unless
  // round_only) another at every departure inside it, each enacted on the
  // backend and followed by progress up to the next departure or the round's
  // end. Returns true if jobs arrived.
  bool run_round() {
    const double dt = opt.round_s;
    const double now = trace.t0 + dt * round;
    const bool arrived = arrivals(now);
    double seg = now;
    const double round_end = now + dt;
    bool boundary = true;
    while (true) {
      const auto changes = core.pass({seg, round, boundary, boundary && arrived, departures});
      core.enact(changes, backend, seg);
      const double next_departure = backend.plan_segment(seg, round_end);
      const double seg_end =
          opt.round_only ? round_end : std::min(round_end, std::max(seg, next_departure));
      progress(seg, seg_end);
      seg = seg_end;
      if (seg >= round_end || !departures) break;
      boundary = false;  // a departure inside the round: schedule again now
    }
    res.round_throughput.push_back(backend.take_round_throughput());
    ++round;
    return arrived;
  }
};

// Refuses a job that alone, on its fastest placement, would outrun the horizon (a trace row
// may ask for 2e11 iterations: the simulation would run for centuries of simulated time).
// Interns every shape in trace order, the order arrivals intern them in.
void check_jobs_fit_horizon(const Trace& trace, const Cluster& cluster, ThroughputTable& table,
                            int horizon_rounds) {
  const double horizon_s = horizon_rounds * kSchedulingInterval;
  for (const Job& j : trace.jobs) {
    const int shape = table.intern({j.model, j.batch});
    double best = kInfeasible;
    for (int p = 0; p < cluster.num_pools(); ++p)
      for (int n : kGpuCounts) best = std::min(best, table.opt_iter(shape, p, n));
    if (!std::isfinite(best)) continue;  // never runs: the stall check ends the simulation
    const double alone_s = static_cast<double>(j.iterations) * best;
    if (alone_s > horizon_s) {
      throw Error::input("job cannot finish within the simulation horizon")
          .field("num_iteration")
          .expected("a job that runs at most " + std::to_string(horizon_rounds) + " rounds of " +
                    std::to_string(static_cast<int>(kSchedulingInterval)) +
                    " s on its fastest placement")
          .found("job " + j.id.substr(0, 64) + ": " + std::to_string(j.iterations) +
                 " iterations of at least " + std::to_string(best) + " s");
    }
  }
}
}  // namespace

void fill_run_metrics(SimResult& res, const std::vector<JobOutcome>& run, double t0,
                      double busy_gpu_s, double total_gpus, double round_s) {
  const double dt = round_s;
  const int round = res.rounds;
  if (!res.jcts.empty()) {
    const Summary s = summarize(res.jcts);
    res.avg_jct_s = s.mean;
    res.p50_jct_s = s.median;
    res.p99_jct_s = s.p99;
  }
  double q = 0, last = t0;
  int met = 0;
  for (const auto& r : run) {
    if (!r.arrived) continue;
    q += r.queue_s;
    if (r.finish >= 0) {
      last = std::max(last, r.finish);
      if (r.finish <= r.deadline) ++met;
    }
  }
  res.avg_queue_s = res.arrived ? q / res.arrived : 0;
  res.deadline_met = res.arrived ? static_cast<double>(met) / res.arrived : 0;
  res.makespan_s = res.finished == res.jobs ? last - t0 : dt * round;
  double sum = 0;
  int n = 0;
  for (double t : res.round_throughput) {
    res.peak_throughput = std::max(res.peak_throughput, t);
    if (t > 100) {
      sum += t;
      ++n;
    }
  }
  res.avg_throughput = n ? sum / n : 0;
  res.gpu_util = round ? busy_gpu_s / (total_gpus * dt * round) : 0;
}

void check_trace_fits_horizon(const Trace& trace, const Cluster& cluster, const Estimator& est,
                              int horizon_rounds) {
  ThroughputTable table(cluster, est);
  check_jobs_fit_horizon(trace, cluster, table, horizon_rounds);
}

SimResult simulate(const Trace& trace, const Cluster& cluster, const Estimator& est, Policy& policy,
                   const SimOptions& opt) {
  Stopwatch wall;
  if (opt.horizon_rounds < 1 || opt.max_rounds < 0 || opt.max_rounds > opt.horizon_rounds) {
    throw Error::usage("round limit out of range")
        .field("--max-rounds")
        .expected("0.." + std::to_string(opt.horizon_rounds))
        .found(std::to_string(opt.max_rounds));
  }
  if (!(opt.round_s > 0) || !(opt.start_latency_s >= 0))
    throw Error::usage("round length must be positive, start latency not negative");
  // Another round length regroups the arrivals into its rounds.
  Trace regrouped;
  if (opt.round_s != kSchedulingInterval) {
    regrouped = trace;
    assign_rounds(regrouped, opt.round_s);
  }
  const Trace& run = opt.round_s != kSchedulingInterval ? regrouped : trace;
  SimResult res;
  res.policy = policy.name();
  res.jobs = static_cast<int>(trace.jobs.size());
  res.job_jct.assign(trace.jobs.size(), -1.0);
  SimLoop loop(run, cluster, est, policy, opt, res);
  int& round = loop.round;
  int stalled_rounds = 0;
  if (opt.max_rounds == 0) check_jobs_fit_horizon(run, cluster, loop.table, opt.horizon_rounds);
  while (true) {
    if (opt.max_rounds > 0 && round >= opt.max_rounds) break;
    if (round >= opt.horizon_rounds) {
      throw Error::input("trace did not finish within the simulation horizon")
          .expected("every job finished within " + std::to_string(opt.horizon_rounds) +
                    " rounds of " + std::to_string(static_cast<int>(kSchedulingInterval)) + " s")
          .found(std::to_string(res.finished) + " of " + std::to_string(res.jobs) +
                 " jobs finished");
    }
    const bool idle = loop.core.active().empty();
    if (idle && loop.next_arrival < run.jobs.size()) {
      // Idle: jump to the next submission round (idle rounds count as zero
      // throughput).
      const int r = run.jobs[loop.next_arrival].round;
      const int stop = opt.max_rounds > 0 ? std::min(r, opt.max_rounds) : r;
      while (round < stop) {
        res.round_throughput.push_back(0.0);
        ++round;
      }
      if (opt.max_rounds > 0 && round >= opt.max_rounds) break;
    }
    if (idle && loop.next_arrival >= run.jobs.size()) break;
    const bool arrived = loop.run_round();
    const bool progressed = loop.backend.take_progressed();
    // Stalled: everything arrived, nothing departed or arrived, and either
    // nothing is placed or, for kMaxStalledRounds rounds, nothing placed could
    // run (a placement whose plan is infeasible would otherwise hold its GPUs
    // forever).
    if (loop.next_arrival >= run.jobs.size() && !loop.departures && !arrived) {
      bool any_running = false;
      for (const auto& a : loop.core.active()) any_running = any_running || a.current.placed();
      if (!any_running) break;
      stalled_rounds = progressed ? 0 : stalled_rounds + 1;
      if (stalled_rounds >= kMaxStalledRounds) {
        res.stalled = true;
        break;
      }
    } else {
      stalled_rounds = 0;
    }
  }
  res.migrations = loop.core.migrations();
  res.reschedules = loop.core.reschedules();
  res.rounds = round;
  fill_run_metrics(res, loop.jobs, run.t0, loop.backend.busy_gpu_seconds(), cluster.total_gpus(),
                   opt.round_s);
  res.sim_wall_s = wall.seconds();
  res.sched_ms_per_round = loop.core.passes() ? loop.core.pass_ms() / loop.core.passes() : 0;
  res.sched_ms_max_pass = loop.core.max_pass_ms();
  res.sched_cpu_ms_max_pass = loop.core.max_pass_cpu_ms();
  return res;
}

}  // namespace gearbox::sched
