#include "gearbox/sched/simulator.hpp"

#include <algorithm>
#include <cmath>

#include "gearbox/core/error.hpp"
#include "gearbox/core/stats.hpp"
#include "gearbox/sched/node_allocator.hpp"

namespace gearbox::sched {

namespace {
struct JobRun {
  double done = 0;  // iterations done
  double debt = 0;  // restart seconds still to pay
  double queue_s = 0;
  double finish = -1;
  double deadline = 0;
  bool arrived = false;
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
  SimResult res;
  res.policy = policy.name();
  res.jobs = static_cast<int>(trace.jobs.size());
  ThroughputTable table(cluster, est);
  NodeAllocator nodes(cluster);
  std::vector<JobRun> run(trace.jobs.size());
  std::vector<ActiveJob> active;  // arrival order
  std::vector<Placement> target, old;
  std::vector<int> ids;
  const bool pruned = policy.pruned_restart();
  const double dt = kSchedulingInterval;
  std::size_t next_arrival = 0;
  bool departures = false;
  double sched_ms = 0;
  int sched_rounds = 0;
  double busy_gpu_s = 0;
  int round = 0;
  const double total_gpus = cluster.total_gpus();
  if (opt.max_rounds == 0) check_jobs_fit_horizon(trace, cluster, table, opt.horizon_rounds);
  while (true) {
    if (opt.max_rounds > 0 && round >= opt.max_rounds) break;
    if (round >= opt.horizon_rounds) {
      throw Error::input("trace did not finish within the simulation horizon")
          .expected("every job finished within " + std::to_string(opt.horizon_rounds) +
                    " rounds of " + std::to_string(static_cast<int>(kSchedulingInterval)) + " s")
          .found(std::to_string(res.finished) + " of " + std::to_string(res.jobs) +
                 " jobs finished");
    }
    if (active.empty() && next_arrival < trace.jobs.size()) {
      // Idle: jump to the next submission round (idle rounds count as zero throughput).
      const int r = trace.jobs[next_arrival].round;
      const int stop = opt.max_rounds > 0 ? std::min(r, opt.max_rounds) : r;
      while (round < stop) {
        res.round_throughput.push_back(0.0);
        ++round;
      }
      if (opt.max_rounds > 0 && round >= opt.max_rounds) break;
    }
    if (active.empty() && next_arrival >= trace.jobs.size()) break;
    const double now = trace.t0 + dt * round;
    // 1. Arrivals of this round.
    bool arrivals = false;
    while (next_arrival < trace.jobs.size() && trace.jobs[next_arrival].round <= round) {
      const Job& j = trace.jobs[next_arrival];
      ActiveJob a;
      a.id = static_cast<int>(next_arrival);
      a.shape = table.intern({j.model, j.batch});
      a.batch = j.batch;
      a.req_gpus = j.req_gpus;
      a.req_pool = cluster.find_pool(j.req_type);
      a.submit = j.submit;
      a.deadline = now + (j.deadline - now) * kDeadlineScale;
      a.remaining_iters = static_cast<double>(j.iterations);
      run[next_arrival].arrived = true;
      run[next_arrival].deadline = a.deadline;
      active.push_back(a);
      arrivals = true;
      ++res.arrived;
      ++next_arrival;
    }
    // 2-3. Scheduling passes and progress: a pass at the round's start, and (unless
    // round_only) another at every departure inside the round, at the departure's time.
    double seg = now;
    const double round_end = now + dt;
    double round_thr = 0;
    bool boundary = true;
    while (true) {
      // The policy decides; the allocator places on nodes.
      Stopwatch sw;
      target.resize(active.size());
      old.resize(active.size());
      ids.resize(active.size());
      for (std::size_t i = 0; i < active.size(); ++i) {
        target[i] = old[i] = active[i].current;
        ids[i] = active[i].id;
      }
      RoundInput in;
      in.now = seg;
      in.round = round;
      in.boundary = boundary;
      in.cluster = &cluster;
      in.table = &table;
      in.jobs = &active;
      in.arrivals = boundary && arrivals;
      in.departures = departures;
      policy.schedule(in, target);
      const auto migrated = nodes.apply(ids, old, target);
      sched_ms += sw.ms();
      ++sched_rounds;
      res.migrations += static_cast<long long>(migrated.size());
      std::vector<bool> restarted(active.size(), false);
      for (std::size_t i = 0; i < active.size(); ++i) {
        active[i].current = target[i];
        if (!(old[i] == target[i])) {
          if (old[i].placed()) ++res.reschedules;
          restarted[i] = target[i].placed();
        }
      }
      for (int id : migrated) {
        for (std::size_t i = 0; i < active.size(); ++i)
          if (active[i].id == id) restarted[i] = true;
      }
      res.reschedules += static_cast<long long>(migrated.size());
      // When each placed job would finish: it starts at max(seg, submission) (the artifact
      // lets a job in up to 300 s early), pays its restart debt, then computes.
      std::vector<double> start(active.size(), seg), iter(active.size(), kInfeasible);
      std::vector<double> finish(active.size(), kInfeasible);
      double next_departure = kInfeasible;
      for (std::size_t i = 0; i < active.size(); ++i) {
        const ActiveJob& a = active[i];
        if (!a.current.placed()) continue;
        JobRun& r = run[static_cast<std::size_t>(a.id)];
        if (restarted[i]) r.debt += restart_overhead(pruned, a.current.gpus());
        iter[i] = table.opt_iter(a.shape, a.current.pool, a.current.gpus());
        start[i] = std::min(round_end, std::max(seg, a.submit));
        if (std::isfinite(iter[i])) {
          finish[i] = start[i] + r.debt + a.remaining_iters * iter[i];
          next_departure = std::min(next_departure, finish[i]);
        }
      }
      const double seg_end =
          opt.round_only ? round_end : std::min(round_end, std::max(seg, next_departure));
      // Advance [seg, seg_end).
      departures = false;
      std::vector<ActiveJob> still;
      still.reserve(active.size());
      for (std::size_t i = 0; i < active.size(); ++i) {
        ActiveJob& a = active[i];
        JobRun& r = run[static_cast<std::size_t>(a.id)];
        if (!a.current.placed()) {
          r.queue_s += seg_end - seg;
          still.push_back(a);
          continue;
        }
        busy_gpu_s += (seg_end - seg) * a.current.gpus();
        const double window = std::max(0.0, seg_end - start[i]);
        const double pay = std::min(r.debt, window);
        r.debt -= pay;
        const double avail = window - pay;
        if (!std::isfinite(iter[i])) {  // placed where it cannot run (DP view vs best plan)
          still.push_back(a);
          continue;
        }
        if (finish[i] <= seg_end) {
          const double used = a.remaining_iters * iter[i];
          r.finish = finish[i];
          round_thr += a.batch / iter[i] * (used / dt);
          res.jcts.push_back(r.finish - a.submit);
          nodes.release(a.id);
          departures = true;
          ++res.finished;
          continue;
        }
        const double can = avail / iter[i];
        a.remaining_iters -= can;
        round_thr += a.batch / iter[i] * (avail / dt);
        still.push_back(a);
      }
      active.swap(still);
      seg = seg_end;
      if (seg >= round_end || !departures) break;
      boundary = false;  // a departure inside the round: schedule again now
    }
    res.round_throughput.push_back(round_thr);
    ++round;
    // 4. Stalled: everything arrived, nothing runs, and the policy placed no one.
    if (next_arrival >= trace.jobs.size() && !departures && !arrivals) {
      bool any_running = false;
      for (const auto& a : active) any_running = any_running || a.current.placed();
      if (!any_running) break;
    }
  }
  res.rounds = round;
  // Metrics.
  if (!res.jcts.empty()) {
    const Summary s = summarize(res.jcts);
    res.avg_jct_s = s.mean;
    res.p50_jct_s = s.median;
    res.p99_jct_s = s.p99;
  }
  double q = 0, last = trace.t0;
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
  res.makespan_s = res.finished == res.jobs ? last - trace.t0 : dt * round;
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
  res.sim_wall_s = wall.seconds();
  res.sched_ms_per_round = sched_rounds ? sched_ms / sched_rounds : 0;
  return res;
}

}  // namespace gearbox::sched
