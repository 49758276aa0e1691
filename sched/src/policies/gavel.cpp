#include "gearbox/sched/policies/gavel.hpp"

#include <algorithm>
#include <cmath>

#include "gearbox/sched/linear_program.hpp"

namespace gearbox::sched {

std::vector<std::vector<double>> GavelPolicy::solve(Objective obj,
                                                    const std::vector<std::vector<double>>& thr,
                                                    const std::vector<int>& mult,
                                                    const std::vector<int>& gpus,
                                                    const std::vector<int>& capacity) {
  const std::size_t nc = thr.size(), np = capacity.size();
  std::vector<std::vector<double>> x(nc, std::vector<double>(np, 0.0));
  if (nc == 0) return x;
  LinearProgram lp;
  std::vector<std::vector<int>> col(nc, std::vector<int>(np, -1));
  const int z = obj == Objective::kMaxMinFairness ? lp.add_column(1.0, 0, 1e300) : -1;
  for (std::size_t c = 0; c < nc; ++c) {
    const double best = *std::max_element(thr[c].begin(), thr[c].end());
    for (std::size_t p = 0; p < np; ++p) {
      if (thr[c][p] <= 0) continue;
      const double norm = thr[c][p] / best;
      col[c][p] = lp.add_column(obj == Objective::kMaxMinFairness ? 0.0 : norm * mult[c], 0, 1);
    }
  }
  for (std::size_t c = 0; c < nc; ++c) {
    std::vector<int> cols;
    std::vector<double> ones, norm;
    const double best = *std::max_element(thr[c].begin(), thr[c].end());
    for (std::size_t p = 0; p < np; ++p) {
      if (col[c][p] < 0) continue;
      cols.push_back(col[c][p]);
      ones.push_back(1.0);
      norm.push_back(thr[c][p] / best);
    }
    if (cols.empty()) continue;
    lp.add_row(cols, ones, -1e300, 1.0);  // time fractions sum to at most 1
    if (z >= 0) {                         // normalised throughput >= z
      cols.push_back(z);
      norm.push_back(-1.0);
      lp.add_row(cols, norm, 0.0, 1e300);
    }
  }
  for (std::size_t p = 0; p < np; ++p) {
    std::vector<int> cols;
    std::vector<double> w;
    for (std::size_t c = 0; c < nc; ++c) {
      if (col[c][p] < 0) continue;
      cols.push_back(col[c][p]);
      w.push_back(static_cast<double>(mult[c]) * gpus[c]);
    }
    if (!cols.empty()) lp.add_row(cols, w, -1e300, capacity[p]);
  }
  const auto sol = lp.maximize();
  if (sol.empty()) return x;
  for (std::size_t c = 0; c < nc; ++c)
    for (std::size_t p = 0; p < np; ++p)
      if (col[c][p] >= 0) x[c][p] = std::max(0.0, sol[static_cast<std::size_t>(col[c][p])]);
  return x;
}

void GavelPolicy::schedule(const RoundInput& in, std::vector<Placement>& target) {
  const auto& jobs = *in.jobs;
  const int np = in.cluster->num_pools();
  // 1. Re-solve the LP when the multiset of job classes changed (at round boundaries: a
  // departure pass inside a round keeps the last allocation and only fills the freed GPUs).
  std::map<std::pair<int, int>, int> classes;
  if (!in.boundary) departed_ = departed_ || in.departures;
  const bool changed = in.boundary && (in.arrivals || in.departures || departed_);
  if (in.boundary) departed_ = false;
  if (changed) {
    for (const auto& j : jobs) classes[{j.shape, j.req_gpus}]++;
  }
  if (changed && classes != class_count_) {
    class_count_ = classes;
    std::vector<std::pair<int, int>> keys;
    std::vector<std::vector<double>> thr;
    std::vector<int> mult, gpus, cap;
    for (const auto& [k, m] : classes) {
      std::vector<double> row(static_cast<std::size_t>(np));
      double best = 0;
      for (int p = 0; p < np; ++p) {
        row[static_cast<std::size_t>(p)] = in.table->dp_thr(k.first, p, k.second);
        best = std::max(best, row[static_cast<std::size_t>(p)]);
      }
      if (best <= 0) continue;
      keys.push_back(k);
      thr.push_back(std::move(row));
      mult.push_back(m);
      gpus.push_back(k.second);
    }
    for (int p = 0; p < np; ++p) cap.push_back(in.cluster->pool(p).gpus());
    const auto x = solve(objective_, thr, mult, gpus, cap);
    x_.clear();
    for (std::size_t c = 0; c < keys.size(); ++c) x_[keys[c]] = x[c];
  }
  // Nothing to decide when no pending job can run anywhere (only book-keeping).
  bool pending = false;
  for (std::size_t i = 0; i < jobs.size() && !pending; ++i) {
    pending = !target[i].placed() && x_.count({jobs[i].shape, jobs[i].req_gpus});
  }
  if (!pending) {
    if (in.boundary) book_keep(jobs, target, np);
    return;
  }
  // 2. Priorities: X / share of rounds received on that type (infinite when never run there).
  struct Pair {
    std::size_t job;
    int pool;
    double priority;
  };
  std::vector<Pair> pairs;
  std::vector<double> best_priority(jobs.size(), 0.0);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const auto it = x_.find({jobs[i].shape, jobs[i].req_gpus});
    if (it == x_.end()) continue;
    const auto& rec = received(jobs[i].id, np);
    const double active = std::max(1.0, active_rounds_[static_cast<std::size_t>(jobs[i].id)]);
    for (int p = 0; p < np; ++p) {
      const double xv = it->second[static_cast<std::size_t>(p)];
      if (xv < 1e-3) continue;
      const double share = rec[static_cast<std::size_t>(p)] / active;
      const double pr = share <= 0 ? 1e9 * xv : xv / share;
      pairs.push_back({i, p, pr});
      if (target[i].placed() && target[i].pool == p) best_priority[i] = pr;
    }
  }
  std::stable_sort(pairs.begin(), pairs.end(),
                   [](const Pair& a, const Pair& b) { return a.priority > b.priority; });
  // 3. Pending jobs take free GPUs in priority order.
  std::vector<int> free = free_gpus(*in.cluster, target);
  std::vector<bool> done(jobs.size(), false);
  for (std::size_t i = 0; i < jobs.size(); ++i) done[i] = target[i].placed();
  std::vector<const Pair*> waiting;
  for (const auto& pr : pairs) {
    if (done[pr.job]) continue;
    const int n = jobs[pr.job].req_gpus;
    if (free[static_cast<std::size_t>(pr.pool)] >= n) {
      target[pr.job] = cell_of(*in.cluster, pr.pool, n);
      free[static_cast<std::size_t>(pr.pool)] -= n;
      done[pr.job] = true;
    } else {
      waiting.push_back(&pr);
    }
  }
  // 4. At most kMaxMigrateJobs preemptions per round, for pending jobs of much higher priority
  // (at round boundaries only: a departure pass just fills the freed GPUs).
  int preempted = in.boundary ? 0 : kMaxMigrateJobs;
  for (const Pair* pr : waiting) {
    if (preempted >= kMaxMigrateJobs) break;
    if (done[pr->job]) continue;
    const int n = jobs[pr->job].req_gpus;
    std::vector<std::size_t> victims;
    for (std::size_t v = 0; v < jobs.size(); ++v) {
      if (target[v].placed() && target[v].pool == pr->pool && jobs[v].current.placed() &&
          best_priority[v] * 2 < pr->priority) {
        victims.push_back(v);
      }
    }
    std::sort(victims.begin(), victims.end(),
              [&](std::size_t a, std::size_t b) { return best_priority[a] < best_priority[b]; });
    int got = free[static_cast<std::size_t>(pr->pool)];
    std::vector<std::size_t> take;
    for (std::size_t v : victims) {
      if (got >= n || preempted + static_cast<int>(take.size()) >= kMaxMigrateJobs) break;
      take.push_back(v);
      got += target[v].gpus();
    }
    if (got < n) continue;
    for (std::size_t v : take) {
      free[static_cast<std::size_t>(pr->pool)] += target[v].gpus();
      target[v] = Placement{};
      done[v] = true;  // a preempted job waits for the next round
    }
    preempted += static_cast<int>(take.size());
    target[pr->job] = cell_of(*in.cluster, pr->pool, n);
    free[static_cast<std::size_t>(pr->pool)] -= n;
    done[pr->job] = true;
  }
  if (in.boundary) book_keep(jobs, target, np);
}

void GavelPolicy::book_keep(const std::vector<ActiveJob>& jobs,
                            const std::vector<Placement>& target, int np) {
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    auto& rec = received(jobs[i].id, np);
    active_rounds_[static_cast<std::size_t>(jobs[i].id)] += 1;
    if (target[i].placed()) rec[static_cast<std::size_t>(target[i].pool)] += 1;
  }
}

std::vector<double>& GavelPolicy::received(int id, int np) {
  const auto u = static_cast<std::size_t>(id);
  if (u >= received_.size()) {
    received_.resize(u + 1);
    active_rounds_.resize(u + 1, 0.0);
  }
  if (received_[u].empty()) received_[u].assign(static_cast<std::size_t>(np), 0.0);
  return received_[u];
}

}  // namespace gearbox::sched
