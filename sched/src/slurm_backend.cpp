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
  if (running_.count(a.id)) preempt(a.id, now);
  JobInfo& j = it->second;
  const GpuPool& pool = discovered_.cluster.pool(p.pool);
  const int number = ++j.attempts;
  SubmitRequest r;
  r.name = opt_.name_prefix + std::to_string(a.id) + "-" + std::to_string(number);
  r.comment = "crius:" + std::to_string(a.id) + ":" + std::to_string(number);
  r.partition = opt_.partition;
  for (int n : nodes) r.nodes.push_back(node_name(p.pool, n));
  r.gpu_type = pool.type;
  r.per_host = p.per_host;
  r.output = (opt_.work_dir / (r.name + ".out")).string();
  r.script = script_.string();
  const double iter = table_ ? table_->opt_iter(j.shape, p.pool, p.gpus()) : kInfeasible;
  r.env = {{"GEARBOX_JOB_ID", std::to_string(a.id)},
           {"GEARBOX_ATTEMPT", std::to_string(number)},
           {"GEARBOX_GPU_TYPE", pool.type},
           {"GEARBOX_NODES", std::to_string(p.hosts)},
           {"GEARBOX_GPUS_PER_NODE", std::to_string(p.per_host)},
           {"GEARBOX_ITERATIONS", std::to_string(j.iterations)},
           {"GEARBOX_ITER_SECONDS", fmt(iter / opt_.time_scale)},
           {"GEARBOX_CHECKPOINT", checkpoint_path(a.id).string()},
           {"GEARBOX_PROGRESS", progress_path(a.id).string()}};
  if (!j.command.empty()) {
    r.command = j.command;
  } else {
    if (!std::isfinite(iter)) {
      throw Error::runtime("slurm backend: no iteration time for job " + std::to_string(a.id) +
                           " on " + std::to_string(p.gpus()) + " " + pool.type);
    }
    r.command = opt_.worker;
    r.command.insert(r.command.end(),
                     {"--iterations", std::to_string(j.iterations), "--iter-seconds",
                      fmt(iter / opt_.time_scale), "--checkpoint", checkpoint_path(a.id).string(),
                      "--progress", progress_path(a.id).string()});
  }
  if (journal_) journal_->before_submit(a.id, number, r, p);
  if (batch_) {
    running_[a.id] = {Attempt{a.id, number, p, nodes}, 0};  // its Slurm id once submitted
    pending_.push_back({a.id, number, std::move(r)});
    return;
  }
  const long long id = cli_.submit(r);
  if (journal_) journal_->submitted(a.id, number, id);
  running_[a.id] = {Attempt{a.id, number, p, nodes}, id};
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
        ids[i] = 0;  // retried by SlurmCli already: the attempt is lost
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
    if (ids[i] == 0) continue;  // stays in running_ with id 0: the next poll reports it lost
    if (journal_) journal_->submitted(q.job, q.number, ids[i]);
    auto it = running_.find(q.job);
    if (it != running_.end() && it->second.attempt.number == q.number) {
      it->second.slurm_id = ids[i];
    } else {
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
  running_[job] = {Attempt{job, number, placement, nodes}, slurm_id};
}

void SlurmBackend::preempt(int job, double now) {
  auto it = running_.find(job);
  if (it == running_.end()) return;
  const long long id = it->second.slurm_id;
  Stopping s;
  s.job = job;
  s.number = it->second.attempt.number;
  s.slurm_id = id;
  running_.erase(it);
  s.cancel_at = now + opt_.grace_s;
  try {
    cli_.signal(id, "USR1");
  } catch (const Error&) {
    s.cancel_at = now;  // the signal did not reach it: cancel at the next poll
  }
  stopping_.push_back(s);
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
  std::map<long long, SlurmJob> known;
  for (auto& j : cli_.jobs()) known[j.id] = std::move(j);
  // Preempted attempts: gone or ended is done; past the grace period, cancel.
  std::vector<Stopping> still;
  for (auto& s : stopping_) {
    auto k = known.find(s.slurm_id);
    if (k == known.end() || !slurm_job_active(k->second.state)) {
      if (journal_) journal_->ended(s.job, s.number, "preempted");
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
  for (auto it = running_.begin(); it != running_.end();) {
    const int job = it->first;
    auto k = known.find(it->second.slurm_id);
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
      journal_->ended(job, it->second.attempt.number,
                      e.kind == BackendEvent::Kind::kFinished ? "finished"
                      : e.kind == BackendEvent::Kind::kLost   ? "lost"
                                                              : "failed");
    }
    it = running_.erase(it);
  }
  return events;
}

}  // namespace gearbox::sched
