// The artifact's database querier (db_querier.py) as an Estimator. A query for
// (model, size, batch, H, gpu, D) tries in order: the exact key; the same model at its best
// locality, throughput x 0.9^log2(best_D/D); a larger size of the same family at the same key,
// throughput x 1.8^(size steps). Valid only if 0 < e2e <= 300. thr = round(batch/e2e, 3) x
// factors, iter = round(batch/thr, 3). The DP query skips both factors and, with the OOM gate,
// rejects placements whose dp_mem is missing, -1, or x1.2 above 80% of the GPU's memory.
#pragma once

#include "gearbox/sched/estimator.hpp"
#include "gearbox/sched/profile_db.hpp"

namespace gearbox::sched {

class DbEstimator : public Estimator {
 public:
  DbEstimator(const ProfileDb& db, const ModelCatalog& models) : db_(db), models_(models) {}
  std::string name() const override { return "db"; }
  double best_iter_time(const JobShape& job, const GpuPool& pool, int hosts,
                        int per_host) const override;
  double dp_iter_time(const JobShape& job, const GpuPool& pool, int hosts, int per_host,
                      bool oom_gate) const override;
  // The fastest plan the profiler estimated for the exact key (estimate_all); pure data
  // parallelism when it has none.
  ParallelPlan best_parallel_plan(const JobShape& job, const GpuPool& pool, int hosts,
                                  int per_host) const override;
  // True when the artifact's DP memory check rejects n GPUs of this pool.
  bool dp_out_of_memory(const JobShape& job, const GpuPool& pool, int gpus) const;

 private:
  double query(const JobShape& job, const GpuPool& pool, int hosts, int per_host,
               bool apply_factors) const;
  const ProfileDb& db_;
  const ModelCatalog& models_;
};

}  // namespace gearbox::sched
