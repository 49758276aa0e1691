#include "gearbox/sched/node_allocator.hpp"

#include <algorithm>
#include <numeric>

#include "gearbox/core/error.hpp"

namespace gearbox::sched {

NodeAllocator::NodeAllocator(const Cluster& cluster) : cluster_(cluster) {
  for (const auto& gp : cluster.pools()) {
    PoolNodes p;
    p.cap = gp.gpus_per_node;
    p.free.assign(static_cast<std::size_t>(gp.nodes), p.cap);
    p.buckets.resize(static_cast<std::size_t>(p.cap + 1));
    p.pos.resize(static_cast<std::size_t>(gp.nodes));
    p.off.assign(static_cast<std::size_t>(gp.nodes), 0);
    auto& full = p.buckets[static_cast<std::size_t>(p.cap)];
    for (int n = 0; n < gp.nodes; ++n) {
      p.pos[static_cast<std::size_t>(n)] = static_cast<int>(full.size());
      full.push_back(n);
    }
    pools_.push_back(std::move(p));
    free_total_.push_back(gp.gpus());
  }
}

void NodeAllocator::set_free(PoolNodes& p, int node, int f) {
  const auto un = static_cast<std::size_t>(node);
  auto& from = p.buckets[static_cast<std::size_t>(p.free[un])];
  const int at = p.pos[un];
  from[static_cast<std::size_t>(at)] = from.back();
  p.pos[static_cast<std::size_t>(from.back())] = at;
  from.pop_back();
  auto& to = p.buckets[static_cast<std::size_t>(f)];
  p.pos[un] = static_cast<int>(to.size());
  to.push_back(node);
  p.free[un] = f;
}

void NodeAllocator::set_usable(int pool, int node, bool usable) {
  PoolNodes& p = pools_.at(static_cast<std::size_t>(pool));
  char& off = p.off.at(static_cast<std::size_t>(node));
  if (static_cast<bool>(off) == !usable) return;
  off = usable ? 0 : 1;
  p.off_count += usable ? -1 : 1;
}

int NodeAllocator::usable_nodes(int pool) const {
  const PoolNodes& p = pools_.at(static_cast<std::size_t>(pool));
  return static_cast<int>(p.off.size()) - p.off_count;
}

const std::vector<int>& NodeAllocator::nodes_of(int id) const {
  static const std::vector<int> none;
  const auto it = held_.find(id);
  return it == held_.end() ? none : it->second.nodes;
}

void NodeAllocator::release(int id) {
  const auto it = held_.find(id);
  if (it == held_.end()) return;
  PoolNodes& p = pools_[static_cast<std::size_t>(it->second.pool)];
  for (int n : it->second.nodes) {
    set_free(p, n, p.free[static_cast<std::size_t>(n)] + it->second.per_host);
    free_total_[static_cast<std::size_t>(it->second.pool)] += it->second.per_host;
  }
  held_.erase(it);
}

bool NodeAllocator::place_on(int id, const Placement& pl, const std::vector<int>& nodes) {
  PoolNodes& p = pools_[static_cast<std::size_t>(pl.pool)];
  for (int n : nodes)
    if (p.free[static_cast<std::size_t>(n)] < pl.per_host) return false;
  for (int n : nodes) set_free(p, n, p.free[static_cast<std::size_t>(n)] - pl.per_host);
  free_total_[static_cast<std::size_t>(pl.pool)] -= pl.gpus();
  held_[id] = Holding{pl.pool, pl.per_host, nodes};
  return true;
}

bool NodeAllocator::adopt(int id, const Placement& pl, const std::vector<int>& nodes) {
  if (!pl.placed() || pl.pool >= cluster_.num_pools() || held_.count(id) ||
      static_cast<int>(nodes.size()) != pl.hosts)
    return false;
  for (int n : nodes)
    if (n < 0 || n >= cluster_.pool(pl.pool).nodes) return false;
  return place_on(id, pl, nodes);
}

bool NodeAllocator::place(int id, const Placement& pl) {
  PoolNodes& p = pools_[static_cast<std::size_t>(pl.pool)];
  if (pl.per_host > p.cap) return false;
  std::vector<int> chosen;
  // Best fit: nodes with the fewest free GPUs that still hold per_host.
  for (int f = pl.per_host; f <= p.cap && static_cast<int>(chosen.size()) < pl.hosts; ++f) {
    for (int n : p.buckets[static_cast<std::size_t>(f)]) {
      if (p.off_count > 0 && p.off[static_cast<std::size_t>(n)]) continue;
      chosen.push_back(n);
      if (static_cast<int>(chosen.size()) == pl.hosts) break;
    }
  }
  if (static_cast<int>(chosen.size()) < pl.hosts) return false;
  std::sort(chosen.begin(), chosen.end());
  return place_on(id, pl, chosen);
}

void NodeAllocator::repack(int pool, const std::vector<int>& ids,
                           const std::vector<Placement>& target,
                           const std::unordered_map<int, std::vector<int>>& previous,
                           std::vector<int>& migrated) {
  std::vector<std::size_t> on_pool;
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (target[i].placed() && target[i].pool == pool) on_pool.push_back(i);
  // Everything on the pool is released; jobs not in `ids` cannot exist on it (all active jobs
  // are passed), but guard anyway by releasing only listed ones.
  for (std::size_t i : on_pool) release(ids[i]);
  std::stable_sort(on_pool.begin(), on_pool.end(), [&](std::size_t a, std::size_t b) {
    return target[a].per_host > target[b].per_host ||
           (target[a].per_host == target[b].per_host && target[a].hosts > target[b].hosts);
  });
  for (std::size_t i : on_pool) {
    const int id = ids[i];
    const auto prev = previous.find(id);
    if (prev != previous.end() && place_on(id, target[i], prev->second)) continue;
    if (!place(id, target[i])) {
      throw Error::runtime("node allocation failed after repacking")
          .field(cluster_.pool(pool).type);
    }
    if (prev != previous.end()) migrated.push_back(id);
  }
}

std::vector<int> NodeAllocator::apply(const std::vector<int>& ids,
                                      const std::vector<Placement>& old,
                                      const std::vector<Placement>& target) {
  std::vector<long long> demand(pools_.size(), 0);
  for (const auto& t : target)
    if (t.placed()) demand[static_cast<std::size_t>(t.pool)] += t.gpus();
  for (std::size_t p = 0; p < pools_.size(); ++p) {
    const long long cap = static_cast<long long>(usable_nodes(static_cast<int>(p))) * pools_[p].cap;
    if (demand[p] > cap) {
      throw Error::runtime("policy over-allocated a pool")
          .field(cluster_.pool(static_cast<int>(p)).type)
          .expected("<= " + std::to_string(cap))
          .found(std::to_string(demand[p]));
    }
  }
  std::vector<int> migrated;
  std::vector<std::size_t> changed;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (!(old[i] == target[i])) {
      release(ids[i]);
      if (target[i].placed()) changed.push_back(i);
    }
  }
  std::stable_sort(changed.begin(), changed.end(), [&](std::size_t a, std::size_t b) {
    return target[a].gpus() > target[b].gpus();
  });
  std::vector<bool> repacked(pools_.size(), false);
  for (std::size_t i : changed) {
    const int pool = target[i].pool;
    if (repacked[static_cast<std::size_t>(pool)]) continue;
    if (place(ids[i], target[i])) continue;
    // Fragmented: repack the pool (every unchanged job there keeps its nodes where it can).
    std::unordered_map<int, std::vector<int>> previous;
    for (std::size_t k = 0; k < ids.size(); ++k) {
      if (target[k].placed() && target[k].pool == pool && old[k] == target[k]) {
        previous[ids[k]] = nodes_of(ids[k]);
      }
    }
    for (std::size_t k : changed)  // drop partial placements of changed jobs on this pool
      if (target[k].pool == pool) release(ids[k]);
    repack(pool, ids, target, previous, migrated);
    repacked[static_cast<std::size_t>(pool)] = true;
  }
  return migrated;
}

}  // namespace gearbox::sched
