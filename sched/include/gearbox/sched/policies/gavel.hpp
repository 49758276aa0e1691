// Gavel (heterogeneity-aware): an LP over (job class x GPU type) time fractions X, with the
// job's requested GPU count and data-parallel throughputs, maximising either the minimum
// normalised throughput (max-min fairness) or the total normalised throughput; jobs with the
// same model, batch and GPU count form one class. Gavel's round mechanism then runs the
// (job, type) pairs of highest priority X / (share of rounds received on that type); running
// jobs stay unless preempted, at most 3 per round (MAX_MGRT_JOB_NUM), by a pending job of
// at least twice their priority. The LP is re-solved only when the set of classes changes.
#pragma once

#include <map>

#include "gearbox/sched/policy.hpp"

namespace gearbox::sched {

class GavelPolicy : public Policy {
 public:
  enum class Objective { kMaxMinFairness, kMaxTotalThroughput };
  explicit GavelPolicy(Objective obj) : objective_(obj) {}
  std::string name() const override {
    return objective_ == Objective::kMaxMinFairness ? "gavel" : "gavel-thr";
  }
  void schedule(const RoundInput& in, std::vector<Placement>& target) override;

  // Solves the allocation LP for classes with throughput rows thr[c][pool] (samples/s, 0 =
  // cannot run), multiplicities mult[c] and GPU counts gpus[c]. Returns X[c][pool].
  static std::vector<std::vector<double>> solve(Objective obj,
                                                const std::vector<std::vector<double>>& thr,
                                                const std::vector<int>& mult,
                                                const std::vector<int>& gpus,
                                                const std::vector<int>& capacity);

 private:
  // Counts the rounds each job was active and ran on each pool (for priorities).
  void book_keep(const std::vector<ActiveJob>& jobs, const std::vector<Placement>& target, int np);
  // Rounds job `id` ran on each of the np pools (grown on first use).
  std::vector<double>& received(int id, int np);
  Objective objective_;
  bool departed_ = false;  // a departure inside the round: re-solve at the next boundary
  std::map<std::pair<int, int>, int> class_count_;        // (shape, gpus) -> jobs, last solve
  std::map<std::pair<int, int>, std::vector<double>> x_;  // (shape, gpus) -> X per pool
  std::vector<std::vector<double>> received_;             // [job id][pool]: rounds run there
  std::vector<double> active_rounds_;                     // [job id]: rounds active
};

}  // namespace gearbox::sched
