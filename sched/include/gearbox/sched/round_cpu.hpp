// CPU time of the daemon's rounds (poll, decide, enact): the daemon thread's own CPU and the
// CPU of the Slurm tools it ran (children it waited for), per round, for GET /metrics.
#pragma once

#include <ostream>

namespace gearbox::sched {

struct RoundCpu {
  double self = 0;      // this thread's CPU seconds (CLOCK_THREAD_CPUTIME_ID)
  double children = 0;  // CPU seconds of waited-for child processes (RUSAGE_CHILDREN)
};
// The counters now.
RoundCpu round_cpu_now();
// This thread's CPU seconds so far.
double thread_cpu_seconds();

// Sum, count, maximum and a histogram of per-round CPU (self) and wall seconds.
class RoundCpuStats {
 public:
  void add(double self_s, double children_s, double wall_s);
  // Prometheus text: gearbox_sched_round_cpu_seconds (histogram of the daemon's own CPU per
  // round), gearbox_sched_round_cpu_max_seconds, gearbox_sched_round_tools_cpu_seconds_total
  // (Slurm tools' CPU), gearbox_sched_round_wall_seconds_total.
  void write_prometheus(std::ostream& out) const;

  long long count() const { return count_; }
  double self_sum() const { return self_sum_; }
  double self_max() const { return self_max_; }

 private:
  static constexpr double kBuckets[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0};
  long long buckets_[sizeof(kBuckets) / sizeof(kBuckets[0])] = {};
  long long count_ = 0;
  double self_sum_ = 0, self_max_ = 0, children_sum_ = 0, wall_sum_ = 0;
};

}  // namespace gearbox::sched
