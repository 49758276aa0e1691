#include "gearbox/sched/scheduler_core.hpp"

#include <algorithm>
#include <unordered_set>

#include "gearbox/core/stats.hpp"
#include "gearbox/sched/constants.hpp"
#include "gearbox/sched/round_cpu.hpp"

namespace gearbox::sched {

SchedulerCore::SchedulerCore(const Cluster& cluster, ThroughputTable& table, Policy& policy)
    : cluster_(cluster), table_(table), policy_(policy), nodes_(cluster) {}

const ActiveJob& SchedulerCore::admit(int id, const Job& j, double now) {
  ActiveJob a;
  a.id = id;
  a.shape = table_.intern({j.model, j.batch});
  a.batch = j.batch;
  a.req_gpus = j.req_gpus;
  a.req_pool = cluster_.find_pool(j.req_type);
  a.submit = j.submit;
  a.deadline = now + (j.deadline - now) * kDeadlineScale;
  a.remaining_iters = static_cast<double>(j.iterations);
  active_.push_back(a);
  return active_.back();
}

std::vector<PlacementChange> SchedulerCore::pass(const PassContext& ctx) {
  Stopwatch sw;
  const double cpu0 = thread_cpu_seconds();
  const std::size_t n = active_.size();
  target_.resize(n);
  old_.resize(n);
  ids_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    target_[i] = old_[i] = active_[i].current;
    ids_[i] = active_[i].id;
  }
  RoundInput in;
  in.now = ctx.now;
  in.round = ctx.round;
  in.boundary = ctx.boundary;
  in.cluster = all_in_service_ ? &cluster_ : &in_service_;
  in.table = &table_;
  in.jobs = &active_;
  in.arrivals = ctx.arrivals;
  in.departures = ctx.departures;
  policy_.schedule(in, target_);
  const auto migrated = nodes_.apply(ids_, old_, target_);
  const double ms = sw.ms();
  pass_ms_ += ms;
  max_pass_ms_ = std::max(max_pass_ms_, ms);
  max_pass_cpu_ms_ = std::max(max_pass_cpu_ms_, (thread_cpu_seconds() - cpu0) * 1e3);
  ++passes_;
  std::vector<PlacementChange> changes;
  for (std::size_t i = 0; i < n; ++i) {
    active_[i].current = target_[i];
    if (!(old_[i] == target_[i])) {
      if (old_[i].placed()) ++reschedules_;
      changes.push_back({ids_[i], old_[i], target_[i], false});
    }
  }
  for (int id : migrated) {
    for (std::size_t i = 0; i < n; ++i)
      if (ids_[i] == id) changes.push_back({id, active_[i].current, active_[i].current, true});
  }
  reschedules_ += static_cast<long long>(migrated.size());
  migrations_ += static_cast<long long>(migrated.size());
  return changes;
}

void SchedulerCore::enact(const std::vector<PlacementChange>& changes, ClusterBackend& backend,
                          double now) const {
  for (const auto& c : changes) {
    if (c.to.placed()) {
      const auto it = std::find_if(active_.begin(), active_.end(),
                                   [&](const ActiveJob& a) { return a.id == c.job; });
      backend.start(*it, c.to, nodes_.nodes_of(c.job), now);
    } else if (c.from.placed()) {
      backend.preempt(c.job, now);
    }
  }
}

void SchedulerCore::depart(const std::vector<int>& ids) {
  if (ids.empty()) return;
  const std::unordered_set<int> gone(ids.begin(), ids.end());
  for (int id : ids) nodes_.release(id);
  std::erase_if(active_, [&](const ActiveJob& a) { return gone.count(a.id) > 0; });
}

bool SchedulerCore::adopt(int id, const Placement& placement, const std::vector<int>& nodes) {
  for (auto& a : active_) {
    if (a.id != id) continue;
    if (!nodes_.adopt(id, placement, nodes)) return false;
    a.current = placement;
    return true;
  }
  return false;
}

void SchedulerCore::unplace(int id) {
  for (auto& a : active_) {
    if (a.id != id) continue;
    if (a.current.placed()) nodes_.release(id);
    a.current = {};
  }
}

std::vector<int> SchedulerCore::set_node_usable(int pool, int node, bool usable) {
  std::vector<int> moved;
  if (nodes_.usable(pool, node) == usable) return moved;
  nodes_.set_usable(pool, node, usable);
  if (!usable) {
    for (auto& a : active_) {
      const auto& held = nodes_.nodes_of(a.id);
      if (!a.current.placed() || a.current.pool != pool ||
          std::find(held.begin(), held.end(), node) == held.end())
        continue;
      nodes_.release(a.id);
      a.current = {};
      moved.push_back(a.id);
    }
  }
  std::vector<int> counts;
  all_in_service_ = true;
  for (int p = 0; p < cluster_.num_pools(); ++p) {
    counts.push_back(nodes_.usable_nodes(p));
    all_in_service_ = all_in_service_ && counts.back() == cluster_.pool(p).nodes;
  }
  in_service_ = cluster_.with_nodes(counts);
  return moved;
}

void SchedulerCore::sync_progress(const ClusterBackend& backend) {
  for (auto& a : active_) a.remaining_iters = backend.remaining_iters(a.id);
}

}  // namespace gearbox::sched
