// Average JCTs over job sets shared by the policies of one run (see simulator.hpp).
#include <algorithm>

#include "gearbox/core/error.hpp"
#include "gearbox/sched/simulator.hpp"

namespace gearbox::sched {

CrossPolicyJct cross_policy_jct(const std::vector<SimResult>& results) {
  CrossPolicyJct out;
  if (results.empty()) return out;
  const std::size_t jobs = results.front().job_jct.size();
  for (const auto& r : results)
    if (r.job_jct.size() != jobs)
      throw Error::runtime("cross-policy JCT: results of different traces");
  // Jobs finished under every policy.
  std::vector<std::size_t> common;
  for (std::size_t j = 0; j < jobs; ++j) {
    bool all = true;
    for (const auto& r : results) all = all && r.job_jct[j] >= 0;
    if (all) common.push_back(j);
  }
  out.common_jobs = static_cast<int>(common.size());
  double pad = 0;
  std::size_t most = 0;
  for (const auto& r : results) {
    for (double t : r.job_jct) pad = std::max(pad, t);
    most = std::max(most, static_cast<std::size_t>(std::count_if(r.job_jct.begin(), r.job_jct.end(),
                                                                 [](double t) { return t >= 0; })));
  }
  for (const auto& r : results) {
    double sum = 0;
    for (std::size_t j : common) sum += r.job_jct[j];
    out.avg_jct_common_s.push_back(common.empty() ? 0 : sum / static_cast<double>(common.size()));
    double all = 0;
    std::size_t n = 0;
    for (double t : r.job_jct) {
      if (t < 0) continue;
      all += t;
      ++n;
    }
    all += pad * static_cast<double>(most - n);
    out.avg_jct_padded_s.push_back(most ? all / static_cast<double>(most) : 0);
  }
  return out;
}

}  // namespace gearbox::sched
