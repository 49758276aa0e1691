#include "gearbox/sched/throughput_table.hpp"

#include <cmath>

namespace gearbox::sched {

int ThroughputTable::intern(const JobShape& s) {
  const auto key = std::make_pair(std::make_pair(s.model.family, s.model.size), s.batch);
  const auto it = index_.find(key);
  if (it != index_.end()) return it->second;
  Entry e;
  e.shape = s;
  e.times.resize(static_cast<std::size_t>(cluster_.num_pools()));
  for (int p = 0; p < cluster_.num_pools(); ++p) {
    const GpuPool& pool = cluster_.pool(p);
    for (int i = 0; i < kNumGpuCounts; ++i) {
      const int n = kGpuCounts[static_cast<std::size_t>(i)];
      auto& slot = e.times[static_cast<std::size_t>(p)][static_cast<std::size_t>(i)];
      slot = {kInfeasible, kInfeasible};
      if (n > pool.gpus()) continue;
      const Placement pl = best_locality(p, n, pool.gpus_per_node);
      slot.first = est_.best_iter_time(s, pool, pl.hosts, pl.per_host);
      slot.second = est_.dp_iter_time(s, pool, pl.hosts, pl.per_host, true);
    }
  }
  const int id = static_cast<int>(shapes_.size());
  shapes_.push_back(std::move(e));
  index_[key] = id;
  return id;
}

std::pair<double, double> ThroughputTable::get(int id, int pool, int n) const {
  const int i = gpu_count_index(n);
  if (i < 0 || pool < 0) return {kInfeasible, kInfeasible};
  return shapes_[static_cast<std::size_t>(id)]
      .times[static_cast<std::size_t>(pool)][static_cast<std::size_t>(i)];
}

double ThroughputTable::thr(int id, double iter) const {
  if (!std::isfinite(iter) || iter <= 0) return 0.0;
  return shapes_[static_cast<std::size_t>(id)].shape.batch / iter;
}

}  // namespace gearbox::sched
