#include "gearbox/sched/policies/sia.hpp"

#include <algorithm>
#include <cmath>

#include "gearbox/sched/linear_program.hpp"

namespace gearbox::sched {

namespace {
constexpr int kMaxPendingConsidered = 32;
constexpr std::size_t kMaxRunningConsidered = 32;
// Branch and bound stops at a 1% gap; the limit only guards against a pathological solve
// (runs stay deterministic unless a solve takes this long).
constexpr int kMipTimeLimitMs = 10000;
}  // namespace

void SiaPolicy::schedule(const RoundInput& in, std::vector<Placement>& target) {
  const auto& jobs = *in.jobs;
  // Sia optimises per round: a departure inside a round waits for the next boundary (its ILP
  // at every departure would dominate the simulator's time at 10k GPUs).
  if (!in.boundary) {
    departed_ = departed_ || in.departures;
    return;
  }
  const bool departures = in.departures || departed_;
  departed_ = false;
  if (!in.arrivals && !departures) return;
  const int np = in.cluster->num_pools();
  // Arrivals that cannot run anywhere change nothing: solve only if a pending job could run.
  if (!departures) {
    bool runnable = false;
    for (std::size_t i = 0; i < jobs.size() && !runnable; ++i) {
      if (target[i].placed()) continue;
      for (int p = 0; p < np && !runnable; ++p)
        for (int n : kGpuCounts) runnable = runnable || in.table->dp_thr(jobs[i].shape, p, n) > 0;
    }
    if (!runnable) return;
  }
  struct Var {
    std::size_t job;
    Placement cell;
    int col;
  };
  std::vector<Var> vars;
  LinearProgram lp;
  std::vector<std::vector<int>> pool_cols(static_cast<std::size_t>(np));
  std::vector<std::vector<double>> pool_w(static_cast<std::size_t>(np));
  std::vector<int> change_cols;
  std::vector<double> change_w;
  double fixed_running = 0;  // running jobs that cannot change: constant 1 in the change row
  int pending_seen = 0;
  auto base_goodput = [&](const ActiveJob& j) {
    double base = 0;
    for (int p = 0; p < np; ++p) {
      for (int n : kGpuCounts) {
        const double g = in.table->dp_thr(j.shape, p, n);
        if (g > 0 && (base == 0 || g < base)) base = g;
      }
    }
    return base;
  };
  // Running jobs offered a change: those gaining most per GPU from doubling and losing least
  // per GPU from halving (kMaxRunningConsidered of each); the others keep their GPUs.
  std::vector<bool> movable(jobs.size(), false);
  {
    std::vector<std::pair<double, std::size_t>> grow, shrink;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (!target[i].placed()) continue;
      const int p = target[i].pool, n = target[i].gpus();
      const double base = base_goodput(jobs[i]);
      if (base <= 0) continue;
      const double u = std::pow(in.table->dp_thr(jobs[i].shape, p, n) / base, kSiaFairness);
      const double up = std::pow(in.table->dp_thr(jobs[i].shape, p, 2 * n) / base, kSiaFairness);
      grow.push_back({-(up - u) / n, i});
      if (n > 1) {
        const double down =
            std::pow(in.table->dp_thr(jobs[i].shape, p, n / 2) / base, kSiaFairness);
        shrink.push_back({(u - down) / (n / 2), i});
      }
    }
    for (auto* v : {&grow, &shrink}) {
      const std::size_t k = std::min<std::size_t>(v->size(), kMaxRunningConsidered);
      std::partial_sort(v->begin(), v->begin() + static_cast<std::ptrdiff_t>(k), v->end());
      for (std::size_t a = 0; a < k; ++a) movable[(*v)[a].second] = true;
    }
  }
  std::vector<int> capacity(static_cast<std::size_t>(np));
  for (int p = 0; p < np; ++p) capacity[static_cast<std::size_t>(p)] = in.cluster->pool(p).gpus();
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const ActiveJob& j = jobs[i];
    const bool running = target[i].placed();
    if (running && !movable[i]) {
      capacity[static_cast<std::size_t>(target[i].pool)] -= target[i].gpus();
      continue;
    }
    if (!running && pending_seen >= kMaxPendingConsidered) continue;
    const double base = base_goodput(j);
    if (base <= 0) continue;  // cannot run anywhere under the DP view
    if (!running) ++pending_seen;
    std::vector<int> cols;
    for (int p = 0; p < np; ++p) {
      for (int n : kGpuCounts) {
        const double g = in.table->dp_thr(j.shape, p, n);
        if (g <= 0) continue;
        const bool is_current = running && target[i].pool == p && target[i].gpus() == n;
        if (running && !is_current) {  // running jobs: halve or double on their type
          const int cur = target[i].gpus();
          if (p != target[i].pool || (n != cur / 2 && n != cur * 2)) continue;
        }
        double u = std::pow(g / base, kSiaFairness);
        if (running && !is_current) {  // a running job pays a restart to change
          const double share = restart_overhead(false, n) / kSchedulingInterval;
          u *= std::max(0.05, 1.0 - share);
        }
        const int c = lp.add_column(u, 0, 1, true);
        vars.push_back({i, cell_of(*in.cluster, p, n), c});
        cols.push_back(c);
        pool_cols[static_cast<std::size_t>(p)].push_back(c);
        pool_w[static_cast<std::size_t>(p)].push_back(n);
        if (running && is_current) {
          change_cols.push_back(c);
          change_w.push_back(-1.0);
        }
      }
    }
    if (cols.empty()) continue;
    lp.add_row(cols, std::vector<double>(cols.size(), 1.0), -1e300, 1.0);
    if (running) fixed_running += 1;
  }
  if (vars.empty()) return;
  for (int p = 0; p < np; ++p) {
    if (pool_cols[static_cast<std::size_t>(p)].empty()) continue;
    lp.add_row(pool_cols[static_cast<std::size_t>(p)], pool_w[static_cast<std::size_t>(p)], -1e300,
               capacity[static_cast<std::size_t>(p)]);
  }
  // Running jobs leaving their configuration: sum(1 - x_current) <= 3.
  if (!change_cols.empty()) {
    lp.add_row(change_cols, change_w, -1e300, kMaxMigrateJobs - fixed_running);
  }
  const auto x = lp.maximize(kMipTimeLimitMs);
  if (x.empty()) return;  // keep the current allocation
  std::vector<Placement> next = target;
  std::vector<bool> in_ilp(jobs.size(), false);
  for (const auto& v : vars) in_ilp[v.job] = true;
  for (std::size_t i = 0; i < jobs.size(); ++i)
    if (in_ilp[i]) next[i] = Placement{};
  for (const auto& v : vars)
    if (x[static_cast<std::size_t>(v.col)] > 0.5) next[v.job] = v.cell;
  target = next;
}

}  // namespace gearbox::sched
