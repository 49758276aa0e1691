#include "gearbox/sched/slurm_daemon.hpp"

#include <algorithm>
#include <chrono>
#include <random>
#include <sstream>

#include "gearbox/core/error.hpp"
#include "gearbox/core/stats.hpp"
#include "gearbox/sched/emulated_worker.hpp"
#include "gearbox/sched/model_catalog.hpp"
#include "gearbox/sched/reconcile.hpp"
#include "gearbox/sched/round_cpu.hpp"

namespace gearbox::sched {

namespace {
std::string new_token() {
  std::random_device rd;
  std::ostringstream s;
  s << std::hex << (rd() & 0xffffffu);
  return s.str();
}

std::string join(const std::vector<std::string>& v, char sep) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : std::string(1, sep)) + x;
  return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

bool terminal(const std::string& state) {
  return state == "finished" || state == "failed" || state == "cancelled";
}
}  // namespace

SlurmDaemon::SlurmDaemon(const DaemonOptions& opt, SlurmCli& cli, const Estimator& est)
    : opt_(opt), cli_(cli) {
  if (!(opt_.time_scale > 0)) throw Error::usage("must be positive").field("--time-scale");
  if (!(opt_.round_seconds > 0)) throw Error::usage("must be positive").field("--round-seconds");
  policy_ = make_policy(opt_.policy);
  store_ = std::make_unique<StateStore>(opt_.state);
  token_ = store_->meta("token");
  if (token_.empty()) {
    token_ = new_token();
    store_->set_meta("token", token_);
  }
  SlurmBackendOptions bo;
  bo.partition = opt_.partition;
  bo.work_dir = opt_.state.parent_path() / (opt_.state.filename().string() + ".jobs");
  bo.worker = opt_.worker;
  bo.time_scale = opt_.time_scale;
  bo.grace_s = opt_.grace_s;
  bo.name_prefix = "crius-" + token_ + "-";
  backend_ = std::make_unique<SlurmBackend>(cli_, bo);
  table_ = std::make_unique<ThroughputTable>(backend_->cluster(), est);
  backend_->set_table(table_.get());
  backend_->set_journal(this);
  backend_->set_batch_submit(true);
  core_ = std::make_unique<SchedulerCore>(backend_->cluster(), *table_, *policy_);
  for (int p = 0; p < backend_->cluster().num_pools(); ++p)
    for (int k = 0; k < backend_->cluster().pool(p).nodes; ++k)
      node_at_[backend_->node_name(p, k)] = {p, k};
  using namespace std::chrono;
  t0_ = duration<double>(system_clock::now().time_since_epoch()).count();
  std::lock_guard<std::mutex> lock(mu_);
  reconcile(t0_);
}

SlurmDaemon::~SlurmDaemon() = default;

double SlurmDaemon::scaled(double wall) const {
  return (wall - t0_) * opt_.time_scale;
}

void SlurmDaemon::admit_row(const JobRow& j, int attempts, double now) {
  const ModelCatalog& models = ModelCatalog::shared();
  Job job;
  job.model = models.get(j.model);
  job.batch = j.batch;
  job.iterations = j.iterations;
  job.submit = scaled(j.submitted);
  job.deadline = j.deadline > 0 ? job.submit + j.deadline : kNoDeadline;
  const auto extra = Json::parse(j.request.empty() ? "{}" : j.request);
  job.req_gpus = extra.value("gpus", 1);
  // No type asked: no preference (the simulator's reading of a trace type the cluster lacks).
  job.req_type = extra.value("gpu_type", std::string());
  std::vector<std::string> command;
  if (extra.contains("command")) command = extra["command"].get<std::vector<std::string>>();
  const ActiveJob& a = core_->admit(static_cast<int>(j.id), job, scaled(now));
  backend_->admit(a, j.iterations, command, attempts);
  arrivals_ = true;
}

void SlurmDaemon::reconcile(double now) {
  for (const auto& j : store_->jobs()) {
    if (terminal(j.state)) continue;
    const auto attempts = store_->attempts(j.id);
    admit_row(j, attempts.empty() ? 0 : attempts.back().number, now);
  }
  const auto prefix = "crius-" + token_ + "-";
  std::vector<SlurmJob> mine;
  for (auto& sj : cli_.jobs())
    if (sj.name.rfind(prefix, 0) == 0) mine.push_back(std::move(sj));
  const auto plan = sched::reconcile(store_->open_attempts(), store_->attempt_names(), mine);
  const Cluster& c = backend_->cluster();
  auto adopt = [&](const AttemptRow& a, const SlurmJob& sj) {
    const int pool = c.find_pool(a.gpu_type);
    std::vector<int> nodes;
    for (const auto& name : split(a.nodes, ',')) {
      for (int k = 0; pool >= 0 && k < c.pool(pool).nodes; ++k)
        if (backend_->node_name(pool, k) == name) nodes.push_back(k);
    }
    const Placement p{pool, a.hosts, a.per_host};
    const int id = static_cast<int>(a.job);
    if (a.slurm_id == 0) store_->attempt_submitted(a.job, a.number, sj.id);
    if (pool < 0 || !core_->adopt(id, p, nodes)) {
      cli_.cancel(sj.id);
      store_->end_attempt(a.job, a.number, "lost", now);
      return;
    }
    // An attempt that ended while the daemon was away is settled by the next poll.
    backend_->adopt(id, a.number, sj.id, p, nodes);
  };
  for (const auto& [a, sj] : plan.adopt) adopt(a, sj);
  for (const auto& [a, sj] : plan.ended) adopt(a, sj);
  for (const auto& a : plan.lost) store_->end_attempt(a.job, a.number, "lost", now);
  for (long long id : plan.cancel) cli_.cancel(id);
}

Json SlurmDaemon::submit(const Json& body) {
  if (!body.is_object()) throw Error::input("request body is not a JSON object");
  auto need = [&](const char* key) -> const Json& {
    if (!body.contains(key)) throw Error::input("missing field").field(key);
    return body[key];
  };
  const Json& model = need("model");
  if (!model.is_string()) throw Error::input("not a string").field("model");
  const ModelCatalog& models = ModelCatalog::shared();
  try {
    (void)models.get(model.get<std::string>());
  } catch (const Error& e) {
    throw Error::input("unknown model").field("model").found(model.get<std::string>());
  }
  const Json& batch = need("batch");
  if (!batch.is_number_integer() || batch.get<long long>() <= 0 || batch.get<long long>() > 1 << 20)
    throw Error::input("must be a positive integer").field("batch").found(batch.dump());
  const Json& iters = need("iterations");
  if (!iters.is_number_integer() || iters.get<long long>() <= 0 ||
      iters.get<long long>() > 1'000'000'000)
    throw Error::input("must be a positive integer").field("iterations").found(iters.dump());
  Json extra = Json::object();
  const int gpus = body.contains("gpus") && body["gpus"].is_number_integer()
                       ? body["gpus"].get<int>()
                       : (body.contains("gpus") ? -1 : 1);
  if (gpus <= 0 || gpus > 1024 || (gpus & (gpus - 1)) != 0)
    throw Error::input("must be a power of two from 1")
        .field("gpus")
        .found(body.contains("gpus") ? body["gpus"].dump() : "");
  extra["gpus"] = gpus;
  std::lock_guard<std::mutex> lock(mu_);
  const Cluster& c = backend_->cluster();
  if (body.contains("gpu_type")) {
    if (!body["gpu_type"].is_string() || c.find_pool(body["gpu_type"].get<std::string>()) < 0)
      throw Error::input("not a GPU type of this cluster")
          .field("gpu_type")
          .found(body["gpu_type"].dump());
    extra["gpu_type"] = c.pool(c.find_pool(body["gpu_type"].get<std::string>())).type;
  }
  double deadline = 0;
  if (body.contains("deadline")) {
    if (!body["deadline"].is_number() || !(body["deadline"].get<double>() > 0))
      throw Error::input("must be a positive number of seconds").field("deadline");
    deadline = body["deadline"].get<double>();
  }
  if (body.contains("command")) {
    const Json& cmd = body["command"];
    if (!cmd.is_array() || cmd.empty() ||
        !std::all_of(cmd.begin(), cmd.end(), [](const Json& w) { return w.is_string(); }))
      throw Error::input("must be a non-empty array of strings").field("command");
    extra["command"] = cmd;
  }
  using namespace std::chrono;
  const double now = duration<double>(system_clock::now().time_since_epoch()).count();
  JobRow row;
  row.model = model.get<std::string>();
  row.batch = batch.get<int>();
  row.iterations = iters.get<long long>();
  row.deadline = deadline;
  row.request = extra.dump();
  row.submitted = now;
  row.id = store_->add_job(row);
  row.state = "pending";
  admit_row(row, 0, now);
  return job_json(row);
}

Json SlurmDaemon::job_json(const JobRow& j) const {
  Json out = {{"id", j.id},
              {"model", j.model},
              {"batch", j.batch},
              {"iterations", j.iterations},
              {"state", j.state},
              {"submitted", j.submitted},
              {"failures", j.failures},
              {"max_failures", opt_.max_failures}};
  if (terminal(j.state)) out["finished"] = j.finished;
  const auto extra = Json::parse(j.request.empty() ? "{}" : j.request);
  for (const auto& [k, v] : extra.items()) out[k] = v;
  if (j.deadline > 0) out["deadline"] = j.deadline;
  long long done = 0;
  try {
    done = read_iterations_file(backend_->progress_path(static_cast<int>(j.id)));
  } catch (const Error&) {
  }
  out["progress"] = j.state == "finished" ? j.iterations : done;
  Json attempts = Json::array();
  for (const auto& a : store_->attempts(j.id)) {
    attempts.push_back({{"number", a.number},
                        {"name", a.name},
                        {"slurm_id", a.slurm_id},
                        {"state", a.state},
                        {"gpu_type", a.gpu_type},
                        {"nodes", a.nodes},
                        {"hosts", a.hosts},
                        {"gpus_per_node", a.per_host},
                        {"started", a.started},
                        {"ended", a.ended}});
  }
  out["attempts"] = attempts;
  return out;
}

Json SlurmDaemon::jobs() const {
  std::lock_guard<std::mutex> lock(mu_);
  Json out = Json::array();
  for (const auto& j : store_->jobs()) out.push_back(job_json(j));
  return out;
}

std::optional<Json> SlurmDaemon::job(long long id) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto j = store_->job(id);
  if (!j) return std::nullopt;
  return job_json(*j);
}

bool SlurmDaemon::cancel(long long id) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto j = store_->job(id);
  if (!j) return false;
  if (terminal(j->state)) return true;
  to_cancel_.push_back(id);
  return true;
}

void SlurmDaemon::before_submit(int job, int number, const SubmitRequest& r, const Placement& p) {
  AttemptRow a;
  a.job = job;
  a.number = number;
  a.name = r.name;
  a.gpu_type = r.gpu_type;
  a.hosts = p.hosts;
  a.per_host = p.per_host;
  a.nodes = join(r.nodes, ',');
  using namespace std::chrono;
  a.started = duration<double>(system_clock::now().time_since_epoch()).count();
  store_->begin_attempt(a);
  store_->set_job_state(job, "running", 0);
}

void SlurmDaemon::submitted(int job, int number, long long slurm_id) {
  store_->attempt_submitted(job, number, slurm_id);
}

void SlurmDaemon::ended(int job, int number, const std::string& state) {
  using namespace std::chrono;
  store_->end_attempt(job, number, state,
                      duration<double>(system_clock::now().time_since_epoch()).count());
}

void SlurmDaemon::round(double now) {
  // Only this thread calls Slurm, so no lock is needed for these reads.
  const std::vector<SlurmJob> slurm_jobs = cli_.jobs();
  const std::vector<SlurmNode> slurm_nodes = cli_.nodes();
  std::lock_guard<std::mutex> lock(mu_);
  Stopwatch sw;
  const RoundCpu cpu_start = round_cpu_now();
  // Cancellations: stop the attempt, drop the job.
  std::vector<int> gone;
  for (long long id : to_cancel_) {
    backend_->preempt(static_cast<int>(id), now);
    store_->set_job_state(id, "cancelled", now);
    gone.push_back(static_cast<int>(id));
  }
  to_cancel_.clear();
  core_->depart(gone);
  for (int id : gone) backend_->forget(id);
  // Poll Slurm and settle what ended.
  gone.clear();
  departures_ = false;
  for (const auto& e : backend_->poll(now, slurm_jobs)) {
    // Any attempt that ended freed GPUs: the policy decides again (Crius passes only then).
    departures_ = true;
    if (e.kind == BackendEvent::Kind::kFinished) {
      // When its last iteration ended (the backend's reading), not when this poll saw it.
      store_->set_job_state(e.job, "finished", e.time > 0 ? std::min(e.time, now) : now);
      gone.push_back(e.job);
    } else if (e.kind == BackendEvent::Kind::kFailed) {
      store_->add_failure(e.job);
      const auto j = store_->job(e.job);
      if (j && j->failures >= opt_.max_failures) {
        store_->set_job_state(e.job, "failed", now);
        gone.push_back(e.job);
      } else {
        store_->set_job_state(e.job, "pending", 0);
        core_->unplace(e.job);
      }
    } else {
      store_->set_job_state(e.job, "pending", 0);
      core_->unplace(e.job);
    }
  }
  core_->depart(gone);
  for (int id : gone) backend_->forget(id);
  if (refresh_nodes(now, slurm_nodes)) departures_ = true;
  core_->sync_progress(*backend_);
  // Decide and enact the difference.
  PassContext ctx;
  ctx.now = scaled(now);
  ctx.round = round_;
  ctx.arrivals = arrivals_;
  ctx.departures = departures_;
  const auto changes = core_->pass(ctx);
  core_->enact(changes, *backend_, now);
  backend_->submit_pending();
  placements_changed_ += static_cast<long long>(changes.size());
  for (const auto& ch : changes)
    if (!ch.to.placed()) store_->set_job_state(ch.job, "pending", 0);
  store_->add_round(round_, now, static_cast<int>(changes.size()), sw.ms());
  arrivals_ = false;
  ++round_;
  const RoundCpu cpu_end = round_cpu_now();
  round_cpu_.add(cpu_end.self - cpu_start.self, cpu_end.children - cpu_start.children,
                 sw.seconds());
}

Json SlurmDaemon::cluster_info() const {
  std::lock_guard<std::mutex> lock(mu_);
  const Cluster& c = backend_->cluster();
  Json pools = Json::array();
  for (int p = 0; p < c.num_pools(); ++p) {
    Json names = Json::array();
    for (int k = 0; k < c.pool(p).nodes; ++k) names.push_back(backend_->node_name(p, k));
    pools.push_back({{"gpu", c.pool(p).type},
                     {"nodes", c.pool(p).nodes},
                     {"gpus_per_node", c.pool(p).gpus_per_node},
                     {"node_names", names}});
  }
  return {{"name", c.name()},
          {"pools", pools},
          {"gpus", c.total_gpus()},
          {"policy", opt_.policy},
          {"time_scale", opt_.time_scale},
          {"round_seconds", opt_.round_seconds},
          {"grace_seconds", opt_.grace_s}};
}

bool SlurmDaemon::refresh_nodes(double now, const std::vector<SlurmNode>& nodes) {
  bool changed = false;
  for (const auto& n : nodes) {
    const auto at = node_at_.find(n.name);
    if (at == node_at_.end()) continue;
    const auto [pool, node] = at->second;
    const std::string state = n.drained ? "drained" : n.state;
    if (node_state_[n.name] != state) {
      const GpuPool& gp = backend_->cluster().pool(pool);
      store_->upsert_node(n.name, gp.type, gp.gpus_per_node, state, now);
      node_state_[n.name] = state;
    }
    changed = changed || core_->allocator().usable(pool, node) != n.usable();
    for (int job : core_->set_node_usable(pool, node, n.usable())) {
      // A down node's processes are gone: the attempt is lost. Elsewhere it checkpoints.
      if (n.state == "down") {
        backend_->lose(job, now);
      } else {
        backend_->preempt(job, now);
      }
      store_->set_job_state(job, "pending", 0);
    }
  }
  return changed;
}

std::string SlurmDaemon::metrics() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, int> by_state = {
      {"pending", 0}, {"running", 0}, {"finished", 0}, {"failed", 0}, {"cancelled", 0}};
  for (const auto& j : store_->jobs()) ++by_state[j.state];
  std::ostringstream m;
  m << "# HELP gearbox_sched_jobs Jobs by state.\n# TYPE gearbox_sched_jobs gauge\n";
  for (const auto& [s, n] : by_state)
    m << "gearbox_sched_jobs{state=\"" << s << "\"} " << n << "\n";
  m << "# HELP gearbox_sched_rounds_total Scheduling rounds run.\n"
    << "# TYPE gearbox_sched_rounds_total counter\ngearbox_sched_rounds_total " << round_ << "\n";
  m << "# HELP gearbox_sched_placements_changed_total Placement changes enacted.\n"
    << "# TYPE gearbox_sched_placements_changed_total counter\n"
    << "gearbox_sched_placements_changed_total " << placements_changed_ << "\n";
  const SlurmCallStats st = cli_.stats();
  round_cpu_.write_prometheus(m);
  m << "# HELP gearbox_sched_slurm_calls_total Slurm tool calls.\n"
    << "# TYPE gearbox_sched_slurm_calls_total counter\ngearbox_sched_slurm_calls_total "
    << st.calls << "\n";
  m << "# HELP gearbox_sched_slurm_retries_total Slurm tool calls retried.\n"
    << "# TYPE gearbox_sched_slurm_retries_total counter\ngearbox_sched_slurm_retries_total "
    << st.retries << "\n";
  m << "# HELP gearbox_sched_slurm_errors_total Slurm tool calls that failed every try.\n"
    << "# TYPE gearbox_sched_slurm_errors_total counter\ngearbox_sched_slurm_errors_total "
    << st.failures << "\n";
  m << "# HELP gearbox_sched_slurm_call_seconds_total Wall time in Slurm tools.\n"
    << "# TYPE gearbox_sched_slurm_call_seconds_total counter\n"
    << "gearbox_sched_slurm_call_seconds_total " << st.seconds << "\n";
  return m.str();
}

}  // namespace gearbox::sched
