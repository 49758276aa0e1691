#include "gearbox/sched/policies/elasticflow.hpp"

#include <algorithm>
#include <cmath>

#include "gearbox/sched/policies/fcfs.hpp"

namespace gearbox::sched {

void ElasticFlowPolicy::schedule(const RoundInput& in, std::vector<Placement>& target) {
  const auto& jobs = *in.jobs;
  if (!in.arrivals && !in.departures) return;
  const std::size_t nj = jobs.size();
  std::vector<int> pool(nj, -1), min_share(nj, 0);
  for (std::size_t i = 0; i < nj; ++i) {
    const ActiveJob& j = jobs[i];
    pool[i] = requested_or_fallback_pool(in, j, true);
    if (pool[i] < 0) continue;
    for (int n : kGpuCounts) {
      const double it = in.table->dp_iter(j.shape, pool[i], n);
      if (!std::isfinite(it)) continue;
      const double restart =
          target[i].placed() && target[i].gpus() == n ? 0 : restart_overhead(false, n);
      if (in.now + restart + j.remaining_iters * it <= j.deadline) {
        min_share[i] = n;
        break;
      }
    }
  }
  std::vector<std::size_t> admitted, best_effort;
  for (std::size_t i = 0; i < nj; ++i) {
    if (pool[i] < 0) continue;
    (min_share[i] > 0 ? admitted : best_effort).push_back(i);
  }
  std::stable_sort(admitted.begin(), admitted.end(), [&](std::size_t a, std::size_t b) {
    return jobs[a].deadline < jobs[b].deadline;
  });
  std::vector<Placement> next(nj);
  std::vector<int> free = free_gpus(*in.cluster, next);
  auto give = [&](std::size_t i, int n) {
    next[i] = cell_of(*in.cluster, pool[i], n);
    free[static_cast<std::size_t>(pool[i])] -= n;
  };
  for (std::size_t i : admitted) {
    const int p = pool[i];
    const int cur = target[i].placed() && target[i].pool == p ? target[i].gpus() : 0;
    const int want = std::max(cur, min_share[i]);
    if (free[static_cast<std::size_t>(p)] >= want) {
      give(i, want);
    } else if (free[static_cast<std::size_t>(p)] >= min_share[i]) {
      give(i, min_share[i]);
    }
  }
  for (std::size_t i : best_effort) {
    const int p = pool[i];
    const int cur = target[i].placed() && target[i].pool == p ? target[i].gpus() : 0;
    int n = cur > 0 ? cur : jobs[i].req_gpus;
    while (n > 1 && (free[static_cast<std::size_t>(p)] < n ||
                     !std::isfinite(in.table->dp_iter(jobs[i].shape, p, n)))) {
      n /= 2;
    }
    if (n >= 1 && free[static_cast<std::size_t>(p)] >= n &&
        std::isfinite(in.table->dp_iter(jobs[i].shape, p, n))) {
      give(i, n);
    }
  }
  // Leftover GPUs: double the job whose extra GPUs add the most throughput per GPU.
  for (int step = 0; step < 4 * static_cast<int>(nj) + 1; ++step) {
    double best = 0;
    std::size_t who = nj;
    for (std::size_t i = 0; i < nj; ++i) {
      if (!next[i].placed()) continue;
      const int n = next[i].gpus();
      if (2 * n > kGpuCounts.back() || free[static_cast<std::size_t>(next[i].pool)] < n) continue;
      const double t0 = in.table->dp_thr(jobs[i].shape, next[i].pool, n);
      const double t1 = in.table->dp_thr(jobs[i].shape, next[i].pool, 2 * n);
      const double gain = (t1 - t0) / n;
      if (gain > best && gain >= 0.5 * t0 / n) {
        best = gain;
        who = i;
      }
    }
    if (who == nj) break;
    const int n = next[who].gpus();
    free[static_cast<std::size_t>(next[who].pool)] -= n;
    next[who] = cell_of(*in.cluster, next[who].pool, 2 * n);
  }
  target = next;
}

}  // namespace gearbox::sched
