// Which nodes each job's GPUs are on. Applying a round's targets keeps unchanged jobs on their
// nodes, places the others best-fit, and when fragmentation blocks a placement repacks the
// pool (largest jobs first, reusing old nodes where they still fit), which always succeeds when
// the pool's GPU total suffices because counts and node sizes are powers of two. Jobs moved by
// a repack are migrations (the defragmentation the Crius design describes).
#pragma once

#include <unordered_map>
#include <vector>

#include "gearbox/sched/cluster.hpp"
#include "gearbox/sched/placement.hpp"

namespace gearbox::sched {

class NodeAllocator {
 public:
  explicit NodeAllocator(const Cluster& cluster);

  // Moves every job in `ids` from old[i] to target[i]. Returns the ids of jobs whose placement
  // did not change but whose nodes did (migrated). Throws Error::runtime if a pool's targets
  // exceed its GPUs or a placement does not fit the pool's nodes.
  std::vector<int> apply(const std::vector<int>& ids, const std::vector<Placement>& old,
                         const std::vector<Placement>& target);
  // Records that job `id` holds `nodes` (one per host) for `pl` (a restarted daemon adopting
  // an attempt still running); false, changing nothing, if they lack the free GPUs.
  bool adopt(int id, const Placement& pl, const std::vector<int>& nodes);
  // Frees a job's nodes (departure).
  void release(int id);
  // The nodes a job holds (one entry per host), empty if none.
  const std::vector<int>& nodes_of(int id) const;
  // Marks a node in or out of service (a drained or down Slurm node). New placements avoid a
  // node out of service; a job already holding it keeps it until released (the caller moves
  // such jobs off first: apply() checks targets against the GPUs of nodes in service).
  void set_usable(int pool, int node, bool usable);
  bool usable(int pool, int node) const {
    return !pools_[static_cast<std::size_t>(pool)].off[static_cast<std::size_t>(node)];
  }
  // Nodes of a pool in service.
  int usable_nodes(int pool) const;
  int free_gpus(int pool) const { return free_total_[static_cast<std::size_t>(pool)]; }
  int node_free(int pool, int node) const {
    return pools_[static_cast<std::size_t>(pool)].free[static_cast<std::size_t>(node)];
  }

 private:
  struct PoolNodes {
    int cap = 0;
    std::vector<int> free;                  // free GPUs per node
    std::vector<std::vector<int>> buckets;  // buckets[f] = nodes with f free GPUs
    std::vector<int> pos;                   // position of a node in its bucket
    std::vector<char> off;                  // out of service (set_usable)
    int off_count = 0;
  };
  struct Holding {
    int pool = -1;
    int per_host = 0;
    std::vector<int> nodes;
  };
  void set_free(PoolNodes& p, int node, int f);
  bool place(int id, const Placement& pl);
  bool place_on(int id, const Placement& pl, const std::vector<int>& nodes);
  void repack(int pool, const std::vector<int>& ids, const std::vector<Placement>& target,
              const std::unordered_map<int, std::vector<int>>& previous,
              std::vector<int>& migrated);

  const Cluster& cluster_;
  std::vector<PoolNodes> pools_;
  std::vector<int> free_total_;
  std::unordered_map<int, Holding> held_;
};

}  // namespace gearbox::sched
