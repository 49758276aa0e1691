// A heterogeneous GPU cluster: pools of identical nodes, each pool one GPU type from core's
// catalog (GpuCatalog) with the artifact's type id ("a100"), nodes and GPUs per node.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "gearbox/core/hardware.hpp"

namespace gearbox::sched {

struct GpuPool {
  std::string type;               // the artifact's id: "a100", "v100", "a40", "a10", ...
  const GpuSpec* spec = nullptr;  // core catalog entry (memory, FLOP/s, links)
  int nodes = 0;
  int gpus_per_node = 0;
  int rank = 0;  // capacity rank, higher = more capable (artifact's gpu_capacity_rank)
  int gpus() const { return nodes * gpus_per_node; }
};

// Most GPUs a cluster may hold in all its pools (4 Mi: above arena:gpus=4000000, the largest
// scaled cluster; totals stay far inside int).
inline constexpr int kMaxClusterGpus = 1 << 22;

class Cluster {
 public:
  // The artifact's simulated cluster: 80x4 A100, 20x16 V100, 160x2 A40, 160x2 A10 (1,280 GPUs).
  static Cluster arena1280();
  // arena-1280's mix scaled to about `gpus` GPUs (node counts scaled, at least one node each).
  static Cluster scaled(int gpus);
  // Parses a cluster file: either {"name":..,"pools":[{"gpu":"a100","nodes":80,
  // "gpus_per_node":4}, ...]} or the artifact's sim_cluster_spec.json ([{"a100":{"node_num":80}}],
  // GPUs per node from the artifact's node capacities). Throws Error::input naming the field.
  static Cluster load(const std::filesystem::path& path);
  // "arena-1280", "arena:gpus=N" or a file path.
  static Cluster from_spec(std::string_view spec);

  const std::string& name() const { return name_; }
  const std::vector<GpuPool>& pools() const { return pools_; }
  const GpuPool& pool(int p) const { return pools_.at(static_cast<std::size_t>(p)); }
  int num_pools() const { return static_cast<int>(pools_.size()); }
  int total_gpus() const;
  // Pool index of a GPU type id or catalog alias, or -1.
  int find_pool(std::string_view type) const;

  // Adds a pool; throws Error::input for an unknown type, non-positive sizes or a cluster that
  // would hold more than kMaxClusterGpus GPUs.
  void add_pool(std::string_view type, int nodes, int gpus_per_node);
  void set_name(std::string n) { name_ = std::move(n); }
  // The same pools with pool p holding nodes[p] nodes (0 allowed): what a policy may use when
  // some nodes are out of service (drained, down).
  Cluster with_nodes(const std::vector<int>& nodes) const;

 private:
  std::string name_;
  std::vector<GpuPool> pools_;
};

// GPUs per node of a type in the artifact (NODE_CAPACITY), or 0 when it has none.
int artifact_node_capacity(std::string_view type);
// Capacity rank of a type (artifact's gpu_capacity_rank for its types, else by FP16 FLOP/s).
int gpu_rank(std::string_view type, const GpuSpec& spec);

}  // namespace gearbox::sched
