#include "gearbox/sched/slurm_backend.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "gearbox/core/error.hpp"
#include "gearbox/sched/emulated_worker.hpp"
#include "gearbox/sched/reconcile.hpp"

namespace gearbox::sched {

namespace {
// When `path` was last written (wall seconds), or `fallback` if it cannot be read.
double modified_time(const std::filesystem::path& path, double fallback) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fallback;
  return static_cast<double>(st.st_mtim.tv_sec) + static_cast<double>(st.st_mtim.tv_nsec) * 1e-9;
}

std::string fmt(double v) {
  std::ostringstream s;
  s.precision(9);
  s << v;
  return s.str();
}
}  // namespace

SlurmBackend::SlurmBackend(SlurmCli& cli, SlurmBackendOptions opt)
    : cli_(cli), opt_(std::move(opt)) {
  std::vector<SlurmNode> nodes;
  for (auto& n : cli_.nodes()) {
    if (!opt_.partition.empty() &&
        std::find(n.partitions.begin(), n.partitions.end(), opt_.partition) == n.partitions.end())
      continue;
    nodes.push_back(std::move(n));
  }
  if (nodes.empty()) throw Error::input("no Slurm nodes").field("partition " + opt_.partition);
  discovered_ = cluster_from_nodes(nodes);
  if (!(opt_.time_scale > 0)) throw Error::usage("must be positive").field("--time-scale");
  std::filesystem::create_directories(opt_.work_dir);
  script_ = opt_.work_dir / "crius-job.sh";
  {
    std::ofstream out(script_, std::ios::trunc);
    out << job_script_text();
    if (!out) throw Error::runtime("cannot write the job script").at(script_.string());
  }
  std::filesystem::permissions(
      script_, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                   std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                   std::filesystem::perms::others_exec);
}

void SlurmBackend::admit(const ActiveJob& a, long long iterations, std::vector<std::string> command,
                         int attempts) {
  JobInfo j;
  j.attempts = attempts;
  j.iterations = iterations;
  j.batch = a.batch;
  j.shape = a.shape;
  j.command = std::move(command);
  jobs_[a.id] = std::move(j);
}

const std::string& SlurmBackend::node_name(int pool, int node) const {
  return discovered_.node_names.at(static_cast<std::size_t>(pool))
      .at(static_cast<std::size_t>(node));
}

std::filesystem::path SlurmBackend::checkpoint_path(int job) const {
  return opt_.work_dir / ("job-" + std::to_string(job) + ".ckpt");
}
std::filesystem::path SlurmBackend::progress_path(int job) const {
  return opt_.work_dir / ("job-" + std::to_string(job) + ".progress");
}
long long SlurmBackend::checkpointed(int job) const {
  return read_iterations_file(checkpoint_path(job));
}

long long SlurmBackend::slurm_id(int job) const {
  auto it = running_.find(job);
  return it == running_.end() ? 0 : it->second.slurm_id;
}

std::vector<Attempt> SlurmBackend::running() const {
  std::vector<Attempt> out;
  for (const auto& [id, r] : running_) out.push_back(r.attempt);
  return out;
}

void SlurmBackend::start(const ActiveJob& a, const Placement& p, const std::vector<int>& nodes,
                         double now) {
  auto it = jobs_.find(a.id);
  if (it == jobs_.end()) throw Error::runtime("slurm backend: job not admitted");
  const JobInfo& j = it->second;
  if (j.command.empty() && table_ && !std::isfinite(table_->opt_iter(j.shape, p.pool, p.gpus()))) {
    throw Error::runtime("slurm backend: no iteration time for job " + std::to_string(a.id) +
                         " on " + std::to_string(p.gpus()) + " " +
                         discovered_.cluster.pool(p.pool).type);
  }
  if (running_.count(a.id)) preempt(a.id, now);
  Running& r = running_[a.id];
  r = Running{Attempt{a.id, 0, p, nodes}, 0, "", true};
  if (!stopping(a.id)) submit(a.id, r);
}

void SlurmBackend::submit(int job, Running& run) {
  JobInfo& j = jobs_.at(job);
  const Placement& p = run.attempt.placement;
  const GpuPool& pool = discovered_.cluster.pool(p.pool);
  const int number = ++j.attempts;
  SubmitRequest r;
  r.name = opt_.name_prefix + std::to_string(job) + "-" + std::to_string(number);
  r.comment = "crius:" + std::to_string(job) + ":" + std::to_string(number);
  r.partition = opt_.partition;
  for (int n : run.attempt.nodes) r.nodes.push_back(node_name(p.pool, n));
  r.gpu_type = pool.type;
  r.per_host = p.per_host;
  r.output = (opt_.work_dir / (r.name + ".out")).string();
  r.script = script_.string();
  const double iter = table_ ? table_->opt_iter(j.shape, p.pool, p.gpus()) : kInfeasible;
  const ParallelPlan plan = table_ ? table_->plan(j.shape, p) : ParallelPlan{1, p.gpus(), 1};
  std::string nodelist;
  for (const auto& n : r.nodes) nodelist += (nodelist.empty() ? "" : ",") + n;
  r.env = {{"GEARBOX_JOB_ID", std::to_string(job)},
           {"GEARBOX_ATTEMPT", std::to_string(number)},
           {"GEARBOX_GPU_TYPE", pool.type},
           {"GEARBOX_NODES", std::to_string(p.hosts)},
           {"GEARBOX_NODELIST", nodelist},
           {"GEARBOX_GPUS_PER_NODE", std::to_string(p.per_host)},
           {"GEARBOX_GPUS", std::to_string(p.gpus())},
           {"GEARBOX_PIPELINE_STAGES", std::to_string(plan.stages)},
           {"GEARBOX_DP", std::to_string(plan.dp)},
           {"GEARBOX_TP", std::to_string(plan.tp)},
           {"GEARBOX_BATCH", std::to_string(j.batch)},
           {"GEARBOX_ITERATIONS", std::to_string(j.iterations)},
           {"GEARBOX_ITER_SECONDS", fmt(iter / opt_.time_scale)},
           {"GEARBOX_CHECKPOINT", checkpoint_path(job).string()},
           {"GEARBOX_PROGRESS", progress_path(job).string()}};
  if (!j.command.empty()) {
    r.command = j.command;
  } else {
    r.command = opt_.worker;
    r.command.insert(r.command.end(),
                     {"--iterations", std::to_string(j.iterations), "--iter-seconds",
                      fmt(iter / opt_.time_scale), "--checkpoint", checkpoint_path(job).string(),
                      "--progress", progress_path(job).string()});
  }
  run.attempt.number = number;
  run.name = r.name;
  run.deferred = false;
  if (journal_) journal_->before_submit(job, number, r, p);
  if (batch_) {
    run.slurm_id = 0;  // its Slurm id once submit_pending() ran
    pending_.push_back({job, number, std::move(r)});
    return;
  }
  try {
    run.slurm_id = cli_.submit(r);
  } catch (const Error&) {
    run.slurm_id = 0;  // sbatch failed or timed out: the next poll looks for it by name
    return;
  }
  if (journal_) journal_->submitted(job, number, run.slurm_id);
}

void SlurmBackend::submit_pending() {
  const std::size_t n = pending_.size();
  std::vector<long long> ids(n, 0);
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i = next++; i < n; i = next++) {
      try {
        ids[i] = cli_.submit(pending_[i].request);
      } catch (const Error&) {
        ids[i] = 0;  // retried by SlurmCli already: the next poll looks for it by name
      }
    }
  };
  constexpr std::size_t kMaxParallel = 8;
  std::vector<std::thread> threads;
  for (std::size_t t = 1; t < std::min(n, kMaxParallel); ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < n; ++i) {
    const Pending& q = pending_[i];
    if (ids[i] == 0) continue;  // unconfirmed: found by name at the next poll, or lost
    if (journal_) journal_->submitted(q.job, q.number, ids[i]);
    auto it = running_.find(q.job);
    if (it != running_.end() && it->second.attempt.number == q.number) {
      it->second.slurm_id = ids[i];
    } else {
      for (auto& st : stopping_)
        if (st.job == q.job && st.number == q.number) st.slurm_id = ids[i];
      try {
        cli_.cancel(ids[i]);  // stopped before it was submitted
      } catch (const Error&) {
      }
    }
  }
  pending_.clear();
}

void SlurmBackend::adopt(int job, int number, long long slurm_id, const Placement& placement,
                         const std::vector<int>& nodes) {
  auto it = jobs_.find(job);
  if (it == jobs_.end()) throw Error::runtime("slurm backend: adopted job not admitted");
  it->second.attempts = std::max(it->second.attempts, number);
  const std::string name = opt_.name_prefix + std::to_string(job) + "-" + std::to_string(number);
  running_[job] = {Attempt{job, number, placement, nodes}, slurm_id, name, false};
}

bool SlurmBackend::stopping(int job) const {
  return std::any_of(stopping_.begin(), stopping_.end(),
                     [&](const Stopping& s) { return s.job == job; });
}

void SlurmBackend::stop(int job, double cancel_at, const char* end_state) {
  auto it = running_.find(job);
  if (it == running_.end()) return;
  if (it->second.deferred) {  // never submitted
    running_.erase(it);
    return;
  }
  Stopping s;
  s.job = job;
  s.number = it->second.attempt.number;
  s.slurm_id = it->second.slurm_id;
  s.name = it->second.name;
  s.cancel_at = cancel_at;
  s.end_state = end_state;
  running_.erase(it);
  stopping_.push_back(s);
}

void SlurmBackend::preempt(int job, double now) {
  auto it = running_.find(job);
  if (it == running_.end()) return;
  const long long id = it->second.slurm_id;
  double cancel_at = now + opt_.grace_s;
  if (id == 0) {
    cancel_at = now;  // unconfirmed: cancelled at the next poll once found
  } else {
    try {
      cli_.signal(id, "USR1");
    } catch (const Error&) {
      cancel_at = now;  // the signal did not reach it: cancel at the next poll
    }
  }
  stop(job, cancel_at, "preempted");
}

void SlurmBackend::lose(int job, double now) {
  stop(job, now, "lost");
}

void SlurmBackend::rewind_progress(int job) const {
  try {
    write_iterations_file(progress_path(job), checkpointed(job));
  } catch (const Error&) {
  }
}

double SlurmBackend::remaining_iters(int job) const {
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return 0;
  // A running attempt reports progress; otherwise the job restarts from its checkpoint.
  const long long done =
      running_.count(job) ? read_iterations_file(progress_path(job)) : checkpointed(job);
  return static_cast<double>(std::max(0LL, it->second.iterations - done));
}

std::vector<BackendEvent> SlurmBackend::poll(double until) {
  return poll(until, cli_.jobs());
}

std::vector<BackendEvent> SlurmBackend::poll(double until, const std::vector<SlurmJob>& jobs) {
  std::map<long long, SlurmJob> known;
  std::map<std::string, long long> by_name;
  for (const auto& j : jobs) {
    auto& id = by_name[j.name];
    id = std::max(id, j.id);
    known[j.id] = j;
  }
  // An sbatch that failed may still have reached Slurm: its unique name tells.
  auto resolve = [&](int job, int number, long long& id, const std::string& name) {
    if (id != 0) return;
    const auto n = by_name.find(name);
    if (n == by_name.end()) return;
    id = n->second;
    if (journal_) journal_->submitted(job, number, id);
  };
  // Stopped attempts: gone or ended is done; past the grace period, cancel.
  std::vector<Stopping> still;
  for (auto& s : stopping_) {
    resolve(s.job, s.number, s.slurm_id, s.name);
    auto k = known.find(s.slurm_id);
    if (k == known.end() || !slurm_job_active(k->second.state)) {
      if (journal_) journal_->ended(s.job, s.number, s.end_state);
      if (std::string(s.end_state) != "preempted") rewind_progress(s.job);
      continue;
    }
    if (!s.cancelled && until >= s.cancel_at) {
      try {
        cli_.cancel(s.slurm_id);
        s.cancelled = true;
      } catch (const Error&) {
      }
    }
    still.push_back(s);
  }
  stopping_.swap(still);
  std::vector<BackendEvent> events;
  std::vector<int> ready;
  for (auto it = running_.begin(); it != running_.end();) {
    const int job = it->first;
    Running& r = it->second;
    if (r.deferred) {
      if (!stopping(job)) ready.push_back(job);
      ++it;
      continue;
    }
    resolve(job, r.attempt.number, r.slurm_id, r.name);
    auto k = known.find(r.slurm_id);
    if (k != known.end() && slurm_job_active(k->second.state)) {
      ++it;
      continue;
    }
    const long long done = read_iterations_file(progress_path(job));
    BackendEvent e;
    e.job = job;
    e.time = until;
    if (done >= jobs_.at(job).iterations) {
      e.kind = BackendEvent::Kind::kFinished;
      e.time = modified_time(progress_path(job), until);
    } else if (k == known.end() || k->second.state == "NODE_FAIL") {
      e.kind = BackendEvent::Kind::kLost;
    } else {
      e.kind = BackendEvent::Kind::kFailed;
    }
    events.push_back(e);
    if (journal_) {
      journal_->ended(job, r.attempt.number,
                      e.kind == BackendEvent::Kind::kFinished ? "finished"
                      : e.kind == BackendEvent::Kind::kLost   ? "lost"
                                                              : "failed");
    }
    if (e.kind != BackendEvent::Kind::kFinished) rewind_progress(job);
    it = running_.erase(it);
  }
  // Attempts whose previous attempt has now ended.
  for (int job : ready) submit(job, running_.at(job));
  return events;
}

}  // namespace gearbox::sched
