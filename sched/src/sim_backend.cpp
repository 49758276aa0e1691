#include "gearbox/sched/sim_backend.hpp"

#include <algorithm>
#include <cmath>

#include "gearbox/core/error.hpp"
#include "gearbox/sched/constants.hpp"

namespace gearbox::sched {

SimBackend::SimBackend(const Cluster& cluster, const ThroughputTable& table, bool pruned_restart)
    : cluster_(cluster), table_(table), pruned_(pruned_restart) {}

SimBackend::SimJob& SimBackend::job(int id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) throw Error::runtime("simulator: unknown job " + std::to_string(id));
  return it->second;
}

const SimBackend::SimJob& SimBackend::job(int id) const {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) throw Error::runtime("simulator: unknown job " + std::to_string(id));
  return it->second;
}

void SimBackend::admit(const ActiveJob& a) {
  SimJob j;
  j.batch = a.batch;
  j.shape = a.shape;
  j.submit = a.submit;
  j.remaining = a.remaining_iters;
  jobs_[a.id] = j;
}

std::vector<Attempt> SimBackend::running() const {
  std::vector<Attempt> out;
  for (const auto& [id, j] : jobs_)
    if (j.placement.placed()) out.push_back({id, j.attempts, j.placement, j.nodes});
  return out;
}

void SimBackend::start(const ActiveJob& a, const Placement& placement,
                       const std::vector<int>& nodes, double /*now*/) {
  SimJob& j = job(a.id);
  j.placement = placement;
  j.nodes = nodes;
  ++j.attempts;
  j.debt += restart_overhead(pruned_, placement.gpus()) + start_latency_s_;
  planned_ = false;
}

void SimBackend::preempt(int id, double /*now*/) {
  SimJob& j = job(id);
  j.placement = {};
  j.nodes.clear();
  planned_ = false;
}

double SimBackend::remaining_iters(int id) const {
  return job(id).remaining;
}

double SimBackend::plan_segment(double seg, double round_end) {
  double next = kInfeasible;
  for (auto& [id, j] : jobs_) {
    if (!j.placement.placed()) continue;
    j.iter = table_.opt_iter(j.shape, j.placement.pool, j.placement.gpus());
    // A job starts at max(seg, submission): the artifact lets it in up to 300 s early.
    j.start = std::min(round_end, std::max(seg, j.submit));
    j.finish = kInfeasible;
    if (std::isfinite(j.iter)) {
      j.finish = j.start + j.debt + j.remaining * j.iter;
      next = std::min(next, j.finish);
    }
  }
  seg_ = seg;
  planned_ = true;
  return next;
}

std::vector<BackendEvent> SimBackend::poll(double until) {
  if (!planned_) throw Error::runtime("simulator: segment advanced before it was priced");
  std::vector<BackendEvent> events;
  const double dt = round_s_;
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    SimJob& j = it->second;
    if (!j.placement.placed()) {
      ++it;
      continue;
    }
    busy_gpu_s_ += (until - seg_) * j.placement.gpus();
    const double window = std::max(0.0, until - j.start);
    const double pay = std::min(j.debt, window);
    j.debt -= pay;
    const double avail = window - pay;
    if (!std::isfinite(j.iter)) {  // placed where it cannot run (DP view vs best plan)
      ++it;
      continue;
    }
    progressed_ = true;
    if (j.finish <= until) {
      const double used = j.remaining * j.iter;
      round_thr_ += j.batch / j.iter * (used / dt);
      events.push_back({BackendEvent::Kind::kFinished, it->first, j.finish});
      it = jobs_.erase(it);
      continue;
    }
    const double can = avail / j.iter;
    j.remaining -= can;
    round_thr_ += j.batch / j.iter * (avail / dt);
    ++it;
  }
  seg_ = until;
  planned_ = false;
  return events;
}

double SimBackend::take_round_throughput() {
  const double t = round_thr_;
  round_thr_ = 0;
  return t;
}

bool SimBackend::take_progressed() {
  const bool p = progressed_;
  progressed_ = false;
  return p;
}

}  // namespace gearbox::sched
