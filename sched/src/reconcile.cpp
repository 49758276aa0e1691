#include "gearbox/sched/reconcile.hpp"

#include <map>
#include <set>

namespace gearbox::sched {

bool slurm_job_active(const std::string& state) {
  return state == "PENDING" || state == "RUNNING" || state == "CONFIGURING" ||
         state == "COMPLETING" || state == "SUSPENDED" || state == "REQUEUED" ||
         state == "RESIZING" || state == "SIGNALING";
}

ReconcilePlan reconcile(const std::vector<AttemptRow>& open, const std::vector<std::string>& known,
                        const std::vector<SlurmJob>& slurm) {
  ReconcilePlan plan;
  // By name; when Slurm has several jobs of one name (it should not), the newest counts.
  std::map<std::string, const SlurmJob*> by_name;
  for (const auto& j : slurm) {
    auto& slot = by_name[j.name];
    if (!slot || slot->id < j.id) slot = &j;
  }
  for (const auto& a : open) {
    auto it = by_name.find(a.name);
    if (it == by_name.end()) {
      plan.lost.push_back(a);
    } else if (slurm_job_active(it->second->state)) {
      plan.adopt.emplace_back(a, *it->second);
    } else {
      plan.ended.emplace_back(a, *it->second);
    }
  }
  const std::set<std::string> ours(known.begin(), known.end());
  for (const auto& j : slurm) {
    if (j.name.rfind("crius-", 0) != 0 || !slurm_job_active(j.state)) continue;
    if (!ours.count(j.name)) plan.cancel.push_back(j.id);
  }
  return plan;
}

}  // namespace gearbox::sched
