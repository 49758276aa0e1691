// Where a job runs: H nodes x D GPUs per node of one pool (the artifact's locality [D]*H and
// its profile key "H_<gpu>_H_n_D_d"), and the job shape the estimators price.
#pragma once

#include <string>

#include "gearbox/sched/model_catalog.hpp"

namespace gearbox::sched {

struct Placement {
  int pool = -1;  // index into Cluster::pools(); -1 = not placed
  int hosts = 0;
  int per_host = 0;
  int gpus() const { return hosts * per_host; }
  bool placed() const { return pool >= 0 && hosts > 0; }
  bool operator==(const Placement&) const = default;
};

// What an estimator needs to know about a job: the model and its global batch.
struct JobShape {
  ModelRef model;
  int batch = 0;
};

// The best locality of n GPUs with `cap` GPUs per node: [n] if n <= cap, else [cap]*(n/cap).
inline Placement best_locality(int pool, int n, int cap) {
  if (n <= cap) return {pool, 1, n};
  return {pool, n / cap, cap};
}

// The artifact's placement key, e.g. "2_a40_2_n_2_d" for 2 A40 nodes x 2 GPUs.
inline std::string placement_key(const std::string& type, int hosts, int per_host) {
  return std::to_string(hosts) + "_" + type + "_" + std::to_string(hosts) + "_n_" +
         std::to_string(per_host) + "_d";
}

}  // namespace gearbox::sched
