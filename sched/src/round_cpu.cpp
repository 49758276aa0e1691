#include "gearbox/sched/round_cpu.hpp"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>

namespace gearbox::sched {

double thread_cpu_seconds() {
  timespec ts{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

RoundCpu round_cpu_now() {
  RoundCpu c;
  c.self = thread_cpu_seconds();
  rusage ru{};
  if (getrusage(RUSAGE_CHILDREN, &ru) == 0) {
    c.children = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
  }
  return c;
}

void RoundCpuStats::add(double self_s, double children_s, double wall_s) {
  ++count_;
  self_sum_ += self_s;
  self_max_ = std::max(self_max_, self_s);
  children_sum_ += children_s;
  wall_sum_ += wall_s;
  for (std::size_t b = 0; b < sizeof(kBuckets) / sizeof(kBuckets[0]); ++b)
    if (self_s <= kBuckets[b]) ++buckets_[b];
}

void RoundCpuStats::write_prometheus(std::ostream& m) const {
  m << "# HELP gearbox_sched_round_cpu_seconds Daemon CPU per round (poll, decide, enact).\n"
    << "# TYPE gearbox_sched_round_cpu_seconds histogram\n";
  for (std::size_t b = 0; b < sizeof(kBuckets) / sizeof(kBuckets[0]); ++b)
    m << "gearbox_sched_round_cpu_seconds_bucket{le=\"" << kBuckets[b] << "\"} " << buckets_[b]
      << "\n";
  m << "gearbox_sched_round_cpu_seconds_bucket{le=\"+Inf\"} " << count_ << "\n"
    << "gearbox_sched_round_cpu_seconds_sum " << self_sum_ << "\n"
    << "gearbox_sched_round_cpu_seconds_count " << count_ << "\n";
  m << "# HELP gearbox_sched_round_cpu_max_seconds Largest daemon CPU of one round.\n"
    << "# TYPE gearbox_sched_round_cpu_max_seconds gauge\n"
    << "gearbox_sched_round_cpu_max_seconds " << self_max_ << "\n";
  m << "# HELP gearbox_sched_round_tools_cpu_seconds_total CPU of the Slurm tools rounds ran.\n"
    << "# TYPE gearbox_sched_round_tools_cpu_seconds_total counter\n"
    << "gearbox_sched_round_tools_cpu_seconds_total " << children_sum_ << "\n";
  m << "# HELP gearbox_sched_round_wall_seconds_total Wall time of rounds.\n"
    << "# TYPE gearbox_sched_round_wall_seconds_total counter\n"
    << "gearbox_sched_round_wall_seconds_total " << wall_sum_ << "\n";
}

}  // namespace gearbox::sched
