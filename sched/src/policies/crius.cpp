#include "gearbox/sched/policies/crius.hpp"

#include <algorithm>
#include <cmath>

namespace gearbox::sched {

namespace {
constexpr int kMaxDowngradeSearchesPerRound = 16;  // bound on jobs searched per round
}  // namespace

void CriusPolicy::schedule(const RoundInput& in, std::vector<Placement>& target) {
  const auto& jobs = *in.jobs;
  if (!in.arrivals && !in.departures) return;  // nothing changed since the last round
  std::vector<int> free = free_gpus(*in.cluster, target);
  std::vector<int> shrinks(jobs.size(), 0);
  int searches = 0;
  bool pending_left = false;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (target[i].placed()) continue;
    const ActiveJob& j = jobs[i];
    // Best free Cell: highest throughput, then fewer GPUs, then the less capable type.
    int best_pool = -1, best_n = 0;
    double best_thr = 0;
    for (int p = 0; p < in.cluster->num_pools(); ++p) {
      for (int n : kGpuCounts) {
        if (n > j.req_gpus || n > free[static_cast<std::size_t>(p)]) continue;
        const double t = thr(in, j, p, n);
        if (t > best_thr * (1 + 1e-9)) {
          best_thr = t;
          best_pool = p;
          best_n = n;
        }
      }
    }
    if (best_pool >= 0) {
      target[i] = cell_of(*in.cluster, best_pool, best_n);
      free[static_cast<std::size_t>(best_pool)] -= best_n;
      continue;
    }
    if (searches < kMaxDowngradeSearchesPerRound) {
      ++searches;
      if (place_with_downgrades(in, i, target, free, shrinks)) continue;
    }
    pending_left = true;
  }
  if (!pending_left) upgrade(in, target, free);
}

bool CriusPolicy::place_with_downgrades(const RoundInput& in, std::size_t job,
                                        std::vector<Placement>& target, std::vector<int>& free,
                                        std::vector<int>& shrinks) {
  const auto& jobs = *in.jobs;
  const ActiveJob& j = jobs[job];
  struct Option {
    std::size_t victim;
    Placement to;
    int freed;
    double loss;
  };
  double best_gain = 0;
  std::vector<Option> best_plan;
  Placement best_cell;
  for (int p = 0; p < in.cluster->num_pools(); ++p) {
    for (int n : kGpuCounts) {
      if (n > j.req_gpus) continue;
      const double gain_new = thr(in, j, p, n);
      if (gain_new <= 0) continue;
      int deficit = n - free[static_cast<std::size_t>(p)];
      if (deficit <= 0) continue;  // would have been placed
      // Each running job on p offers its cheapest downgrade: halve (up to the shrink limit)
      // or move to another type with the same count.
      std::vector<Option> opts;
      for (std::size_t v = 0; v < jobs.size(); ++v) {
        if (v == job || !target[v].placed() || target[v].pool != p) continue;
        const int nv = target[v].gpus();
        const double cur = thr(in, jobs[v], p, nv);
        Option best{v, {}, 0, 0};
        double best_ratio = 1e300;
        for (int level = 1; level <= kDowngradeSearchIters; ++level) {
          const int to_n = nv >> level;
          if (to_n < 1 || shrinks[v] + level > kMaxShrinkTimes) break;
          const double t = thr(in, jobs[v], p, to_n);
          if (t <= 0) continue;
          const double ratio = (cur - t) / (nv - to_n);
          if (ratio < best_ratio) {
            best_ratio = ratio;
            best = {v, cell_of(*in.cluster, p, to_n), nv - to_n, cur - t};
          }
        }
        for (int q = 0; q < in.cluster->num_pools(); ++q) {
          if (q == p || free[static_cast<std::size_t>(q)] < nv) continue;
          const double t = thr(in, jobs[v], q, nv);
          if (t <= 0) continue;
          const double ratio = (cur - t) / nv;
          if (ratio < best_ratio) {
            best_ratio = ratio;
            best = {v, cell_of(*in.cluster, q, nv), nv, cur - t};
          }
        }
        if (best.freed > 0) opts.push_back(best);
      }
      std::sort(opts.begin(), opts.end(), [](const Option& a, const Option& b) {
        return a.loss / a.freed < b.loss / b.freed;
      });
      std::vector<int> free_after = free;
      std::vector<Option> plan;
      double loss = 0;
      for (const auto& o : opts) {
        if (deficit <= 0) break;
        if (o.to.pool != p) {
          if (free_after[static_cast<std::size_t>(o.to.pool)] < o.to.gpus()) continue;
          free_after[static_cast<std::size_t>(o.to.pool)] -= o.to.gpus();
        }
        plan.push_back(o);
        // A downgraded job also pays a restart (min(10 s x GPUs, 40 s) of its new throughput).
        const double restart = restart_overhead(true, o.to.gpus()) / kSchedulingInterval;
        loss += o.loss + (thr(in, jobs[o.victim], o.to.pool, o.to.gpus())) * restart;
        deficit -= o.freed;
      }
      if (deficit > 0) continue;
      const double gain = gain_new - loss;
      if (gain > best_gain) {
        best_gain = gain;
        best_plan = plan;
        best_cell = cell_of(*in.cluster, p, n);
      }
    }
  }
  if (best_plan.empty()) return false;
  for (const auto& o : best_plan) {
    const Placement from = target[o.victim];
    free[static_cast<std::size_t>(from.pool)] += from.gpus();
    free[static_cast<std::size_t>(o.to.pool)] -= o.to.gpus();
    if (o.to.pool == from.pool) {
      shrinks[o.victim] += static_cast<int>(std::log2(from.gpus() / o.to.gpus()));
    }
    target[o.victim] = o.to;
  }
  target[job] = best_cell;
  free[static_cast<std::size_t>(best_cell.pool)] -= best_cell.gpus();
  return true;
}

void CriusPolicy::upgrade(const RoundInput& in, std::vector<Placement>& target,
                          std::vector<int>& free) {
  const auto& jobs = *in.jobs;
  for (int step = 0; step < kMaxUpgradeSteps; ++step) {
    double best_score = 0;
    std::size_t best_job = 0;
    Placement best_to;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (!target[i].placed()) continue;
      const Placement cur = target[i];
      const int n = cur.gpus();
      const double t0 = thr(in, jobs[i], cur.pool, n);
      if (t0 <= 0) continue;
      auto consider = [&](int pool, int to_n, int extra) {
        const double t1 = thr(in, jobs[i], pool, to_n);
        const double restart = t1 * restart_overhead(true, to_n) / kSchedulingInterval;
        const double gain = t1 - t0 - restart;
        // Grow only where the extra GPUs work at least half as well as the current ones.
        if (gain <= 0 || gain / extra < 0.5 * t0 / n) return;
        const double score = gain / extra;
        if (score > best_score) {
          best_score = score;
          best_job = i;
          best_to = cell_of(*in.cluster, pool, to_n);
        }
      };
      if (2 * n <= kGpuCounts.back() && free[static_cast<std::size_t>(cur.pool)] >= n) {
        consider(cur.pool, 2 * n, n);
      }
      for (int q = 0; q < in.cluster->num_pools(); ++q) {
        if (q != cur.pool && free[static_cast<std::size_t>(q)] >= n &&
            in.cluster->pool(q).rank > in.cluster->pool(cur.pool).rank) {
          consider(q, n, n);
        }
      }
    }
    if (best_score <= 0) break;
    const Placement from = target[best_job];
    free[static_cast<std::size_t>(from.pool)] += from.gpus();
    free[static_cast<std::size_t>(best_to.pool)] -= best_to.gpus();
    target[best_job] = best_to;
  }
}

}  // namespace gearbox::sched
