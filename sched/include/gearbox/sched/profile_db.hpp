// The artifact's profile database: the `optimal` table (measured iteration time of Alpa's best
// plan per model key and placement key), `estimate_all` (the disaggregated profiler's estimate
// for every uniform (pp,dp,tp) plan) and dp_mem (per-GPU memory of a pure-DP replica).
#pragma once

#include <array>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gearbox::sched {

struct ProfiledPlan {
  int pp = 1, dp = 1, tp = 1;
  double compute_s = 0, intra_comm_s = 0, inter_comm_s = 0;
  double e2e_s = 0;  // NaN when the profiler recorded inf/nan (OOM, not runnable)
};

class ProfileDb {
 public:
  // Reads prof_database_optimal.json, prof_estimate_all.json (optional) and
  // database/dp_mem.json from the artifact data folder. Throws Error::input on bad content.
  static ProfileDb load(const std::filesystem::path& crius_dir);
  // The database from the shared data folder, loaded once.
  static const ProfileDb& shared();

  // optimal e2e for (model key, placement key); nullopt when absent or null.
  std::optional<double> optimal(const std::string& model_key,
                                const std::string& placement_key) const;
  // estimate_all plans for (model key, placement key); nullptr when absent.
  const std::vector<ProfiledPlan>* estimate_all(const std::string& model_key,
                                                const std::string& placement_key) const;
  // dp_mem row for a model key (GB per GPU on 1,2,4,8,16 GPUs; -1 OOM, 0 unchecked).
  const std::array<double, 5>* dp_mem(const std::string& model_key) const;

  using OptimalTable = std::map<std::string, std::map<std::string, double>>;
  const OptimalTable& optimal_table() const { return optimal_; }

 private:
  OptimalTable optimal_;
  std::map<std::string, std::map<std::string, std::vector<ProfiledPlan>>> estimate_all_;
  std::map<std::string, std::array<double, 5>> dp_mem_;
};

}  // namespace gearbox::sched
