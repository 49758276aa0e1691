#include "gearbox/sched/replay.hpp"

#include <algorithm>
#include <cmath>

#include "gearbox/core/error.hpp"
#include "gearbox/sched/constants.hpp"

namespace gearbox::sched {

namespace {
double number(const Json& j, const char* key, double fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_number()) throw Error::input("not a number").field(key).found(j[key].dump());
  return j[key].get<double>();
}

const Json& need(const Json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) throw Error::input("missing field").field(key);
  return j[key];
}

// Figures a measured run does not have (per-round throughput, the simulator's own timings).
bool not_measured(const std::string& key) {
  return key == "avg_throughput" || key == "peak_throughput" || key == "sim_wall_s" ||
         key == "sched_ms_per_round" || key == "stalled";
}
}  // namespace

Trace first_jobs(const Trace& trace, int k) {
  Trace out = trace;
  if (k > 0 && static_cast<std::size_t>(k) < out.jobs.size())
    out.jobs.resize(static_cast<std::size_t>(k));
  return out;
}

Json run_metrics_json(const SimResult& r) {
  return {{"avg_jct_s", r.avg_jct_s},
          {"p50_jct_s", r.p50_jct_s},
          {"p99_jct_s", r.p99_jct_s},
          {"avg_queue_s", r.avg_queue_s},
          {"makespan_s", r.makespan_s},
          {"finished", r.finished},
          {"avg_throughput", r.avg_throughput},
          {"peak_throughput", r.peak_throughput},
          {"gpu_util", r.gpu_util},
          {"deadline_met", r.deadline_met},
          {"reschedules", r.reschedules},
          {"stalled", r.stalled},
          {"sim_wall_s", r.sim_wall_s},
          {"sched_ms_per_round", r.sched_ms_per_round}};
}

MeasuredJob measured_job(const Json& record, double now) {
  MeasuredJob m;
  m.submitted = number(record, "submitted", 0);
  if (!need(record, "state").is_string()) throw Error::input("not a string").field("state");
  m.state = record["state"].get<std::string>();
  if (m.state == "finished") {
    m.finished = number(record, "finished", -1);
    if (m.finished < 0) throw Error::input("finished job without a time").field("finished");
  }
  m.deadline = number(record, "deadline", 0);
  m.until = now;
  const Json& attempts = need(record, "attempts");
  if (!attempts.is_array()) throw Error::input("not an array").field("attempts");
  for (const auto& a : attempts) {
    ++m.attempts;
    const double started = number(a, "started", 0);
    double ended = number(a, "ended", 0);
    if (ended <= 0) ended = m.finished >= 0 ? m.finished : now;
    const double s = started > 0 ? std::max(0.0, ended - started) : 0;
    const double gpus = number(a, "hosts", 1) * number(a, "gpus_per_node", 0);
    m.run_s += s;
    m.busy_gpu_s += s * gpus;
    if (a.value("state", std::string()) == "preempted") ++m.preemptions;
  }
  return m;
}

SimResult measured_result(const std::vector<MeasuredJob>& jobs, const std::string& policy,
                          double time_scale, double total_gpus, double round_s) {
  SimResult r;
  r.policy = policy;
  r.jobs = static_cast<int>(jobs.size());
  r.job_jct.assign(jobs.size(), -1.0);
  if (jobs.empty()) return r;
  double t0 = jobs.front().submitted, end = t0, busy = 0;
  for (const auto& j : jobs) t0 = std::min(t0, j.submitted);
  std::vector<JobOutcome> out(jobs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const MeasuredJob& j = jobs[i];
    JobOutcome& o = out[i];
    o.arrived = true;
    ++r.arrived;
    const double submit = (j.submitted - t0) * time_scale;
    o.deadline = j.deadline > 0 ? submit + j.deadline * kDeadlineScale : kNoDeadline;
    // An unfinished job waited until the replay ended (the simulator counts its queueing to
    // the end of the run too).
    const double until = j.finished >= 0 ? j.finished : std::max(j.until, j.submitted + j.run_s);
    o.queue_s = std::max(0.0, (until - j.submitted - j.run_s) * time_scale);
    busy += j.busy_gpu_s * time_scale;
    r.reschedules += j.preemptions;
    end = std::max(end, until);
    if (j.finished >= 0) {
      o.finish = (j.finished - t0) * time_scale;
      r.job_jct[i] = o.finish - submit;
      r.jcts.push_back(r.job_jct[i]);
      ++r.finished;
    }
  }
  r.rounds = std::max(1, static_cast<int>(std::ceil((end - t0) * time_scale / round_s)));
  fill_run_metrics(r, out, 0, busy, total_gpus, round_s);
  // fill_run_metrics measures utilisation over whole rounds; a measured run has its span.
  if (end > t0) r.gpu_util = busy / (total_gpus * (end - t0) * time_scale);
  return r;
}

Json compare_runs(const SimResult& measured, const SimResult& simulated) {
  const Json m = run_metrics_json(measured), s = run_metrics_json(simulated);
  Json out = Json::object();
  for (const auto& [key, value] : m.items()) {
    if (not_measured(key)) continue;
    const double mv = value.get<double>(), sv = s[key].get<double>();
    Json row = {{"measured", value}, {"simulated", s[key]}};
    row["ratio"] = sv != 0 ? Json(mv / sv) : Json(nullptr);
    out[key] = row;
  }
  return out;
}

Cluster cluster_from_json(const Json& doc) {
  const Json& pools = need(doc, "pools");
  if (!pools.is_array() || pools.empty()) throw Error::input("no pools").field("pools");
  Cluster c;
  c.set_name(doc.value("name", std::string("slurm")));
  for (const auto& p : pools) {
    const Json& gpu = need(p, "gpu");
    const Json& nodes = need(p, "nodes");
    const Json& per = need(p, "gpus_per_node");
    if (!gpu.is_string() || !nodes.is_number_integer() || !per.is_number_integer())
      throw Error::input("expected gpu (string), nodes and gpus_per_node (integers)")
          .field("pools")
          .found(p.dump());
    c.add_pool(gpu.get<std::string>(), nodes.get<int>(), per.get<int>());
  }
  return c;
}

}  // namespace gearbox::sched
