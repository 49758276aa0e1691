// `gearbox sched replay --url U --trace T [--jobs K] [--time-scale K] [--json]`: a trace's first
// jobs submitted to a running sched daemon at their time-scaled arrival times; when they have
// all ended, the measured metrics beside the simulator's prediction for the same jobs, cluster
// (the daemon's), policy, round and scale.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include "daemon_client.hpp"
#include "gearbox/core/cli.hpp"
#include "gearbox/core/error.hpp"
#include "gearbox/core/output.hpp"
#include "gearbox/sched/estimator.hpp"
#include "gearbox/sched/policy.hpp"
#include "gearbox/sched/replay.hpp"
#include "sched_commands.hpp"

namespace gearbox::apps::sched_cli {

namespace {
struct ReplayFlags {
  CommonOptions common;
  std::string url, trace = "philly", estimator = "db";
  int jobs = 30;
  double time_scale = 0;      // 0: the daemon's
  double start_latency = -1;  // < 0: measured by probe jobs
  int probes = 3;
  double timeout = 0;  // 0: from the prediction
};

double wall_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

void sleep_until(double t) {
  while (true) {
    const double left = t - wall_now();
    if (left <= 0) return;
    std::this_thread::sleep_for(std::chrono::duration<double>(std::min(left, 0.05)));
  }
}

bool terminal(const std::string& s) {
  return s == "finished" || s == "failed" || s == "cancelled";
}

// The daemon's records of `ids`, by id (GET /v1/jobs once).
std::map<long long, Json> records(const std::string& url, const std::vector<long long>& ids) {
  const Json doc = Json::parse(daemon_call(url, "GET", "/v1/jobs"), nullptr, false);
  if (doc.is_discarded() || !doc.contains("jobs") || !doc["jobs"].is_array())
    throw Error::runtime("the daemon's job list is not JSON with a jobs array").field("--url");
  std::map<long long, Json> out;
  for (const auto& j : doc["jobs"]) {
    const long long id = j.value("id", -1LL);
    if (std::find(ids.begin(), ids.end(), id) != ids.end()) out[id] = j;
  }
  return out;
}

// Start latency of the cluster now, in wall seconds: `n` probe jobs like `job` but of one
// iteration, one after another; each one's time from its attempt's submission to Slurm to its
// end (sbatch, Slurm's start, the worker's start and one iteration). Returns the median.
double probe_start_latency(const std::string& url, const Json& job, int n) {
  std::vector<double> lat;
  for (int k = 0; k < n; ++k) {
    Json body = job;
    body["iterations"] = 1;
    body.erase("deadline");
    const long long id =
        Json::parse(daemon_call(url, "POST", "/v1/jobs", body.dump())).at("id").get<long long>();
    const double stop = wall_now() + 60;
    Json rec;
    while (true) {
      rec = Json::parse(daemon_call(url, "GET", "/v1/jobs/" + std::to_string(id)));
      if (terminal(rec.value("state", std::string()))) break;
      if (wall_now() > stop) {
        daemon_call(url, "DELETE", "/v1/jobs/" + std::to_string(id));
        throw Error::runtime("a probe job did not finish within 60 s (is the cluster idle?)")
            .field("--start-latency");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (rec.value("state", std::string()) != "finished" || rec["attempts"].size() != 1)
      throw Error::runtime("a probe job did not finish in one attempt: " + rec.dump());
    lat.push_back(rec["finished"].get<double>() - rec["attempts"][0]["started"].get<double>());
  }
  std::sort(lat.begin(), lat.end());
  return lat[lat.size() / 2];
}

void run_replay(const ReplayFlags& f) {
  using namespace gearbox::sched;
  const Json info = Json::parse(daemon_call(f.url, "GET", "/v1/cluster"), nullptr, false);
  if (info.is_discarded()) throw Error::runtime("the daemon's /v1/cluster is not JSON");
  const Cluster cluster = cluster_from_json(info);
  const double scale = info.value("time_scale", 0.0), round_wall = info.value("round_seconds", 0.0);
  const std::string policy_name = info.value("policy", std::string());
  if (!(scale > 0) || !(round_wall > 0) || policy_name.empty())
    throw Error::runtime("the daemon's /v1/cluster lacks time_scale, round_seconds or policy");
  if (f.time_scale > 0 && std::abs(f.time_scale - scale) > 1e-9 * scale) {
    throw Error::usage("the daemon runs at another time scale: restart it with this one")
        .field("--time-scale")
        .expected(fmt_num(scale, 6))
        .found(fmt_num(f.time_scale, 6));
  }
  const ModelCatalog& models = ModelCatalog::shared();
  Trace trace;
  try {
    trace = first_jobs(trace_from_spec(f.trace, models), f.jobs);
  } catch (Error& e) {
    if (e.kind() == ErrorKind::kInput && e.file().empty()) e.at(f.trace);
    throw;
  }
  if (trace.jobs.empty()) throw Error::input("trace has no jobs").at(f.trace);

  auto request = [&](const Job& j) {
    Json body = {{"model", models.display_name(j.model)},
                 {"batch", j.batch},
                 {"iterations", j.iterations},
                 {"gpus", j.req_gpus}};
    if (cluster.find_pool(j.req_type) >= 0) body["gpu_type"] = j.req_type;
    if (j.deadline > j.submit) body["deadline"] = j.deadline - j.submit;
    return body;
  };

  // The prediction: the same jobs, cluster, policy, round (wall x scale) and start latency.
  const auto est = make_estimator(f.estimator);
  SimOptions sim;
  sim.round_s = round_wall * scale;
  auto predict = [&] {
    const auto policy = make_policy(policy_name);
    try {
      check_trace_fits_horizon(trace, cluster, *est);
      return simulate(trace, cluster, *est, *policy, sim);
    } catch (Error& e) {
      if (e.kind() == ErrorKind::kInput && e.file().empty()) e.at(f.trace);
      throw;
    }
  };
  SimResult predicted = predict();
  double start_latency = f.start_latency;
  if (start_latency < 0) {
    // Probe with the first job the policy runs (in the simulation).
    std::size_t first = 0;
    while (first + 1 < trace.jobs.size() && predicted.job_jct[first] < 0) ++first;
    start_latency = probe_start_latency(f.url, request(trace.jobs[first]), f.probes);
  }
  sim.start_latency_s = start_latency * scale;
  predicted = predict();
  const double span_wall = (trace.jobs.back().submit - trace.t0) / scale;
  const double limit = f.timeout > 0 ? f.timeout
                                     : 60 + 2 * std::max(span_wall, predicted.makespan_s / scale) +
                                           4 * round_wall * static_cast<double>(trace.jobs.size());
  std::cerr << "sched replay: " << trace.jobs.size() << " jobs of " << trace.name << " on "
            << cluster.total_gpus() << " GPUs under " << policy_name << " at time scale " << scale
            << " (round " << round_wall << " s); predicted makespan "
            << fmt_num(predicted.makespan_s / scale, 1) << " s wall, limit " << fmt_num(limit, 0)
            << " s\n";

  // Submissions at the time-scaled arrival times.
  const double t_begin = wall_now() + 0.5;
  std::vector<long long> ids;
  auto cancel_all = [&](const std::map<long long, Json>& last) {
    for (long long id : ids) {
      auto it = last.find(id);
      if (it != last.end() && terminal(it->second.value("state", std::string()))) continue;
      try {
        daemon_call(f.url, "DELETE", "/v1/jobs/" + std::to_string(id));
      } catch (const Error&) {
      }
    }
  };
  std::vector<double> arrival;  // wall time each job arrives (its submission is sent then)
  for (const Job& j : trace.jobs) {
    arrival.push_back(t_begin + (j.submit - trace.t0) / scale);
    sleep_until(arrival.back());
    try {
      const Json rec = Json::parse(daemon_call(f.url, "POST", "/v1/jobs", request(j).dump()));
      ids.push_back(rec.at("id").get<long long>());
    } catch (...) {
      cancel_all({});
      throw;
    }
  }

  // Wait until every job ended, or nothing runs while jobs still wait (the policy cannot place
  // them: the simulator ends such a run the same way), within the limit.
  const double poll = std::max(0.25, std::min(round_wall, 2.0));
  std::map<long long, Json> last;
  int idle_polls = 0;
  double idle_since = 0;
  while (true) {
    last = records(f.url, ids);
    int ended = 0, running = 0;
    for (long long id : ids) {
      const std::string s = last.count(id) ? last[id].value("state", std::string()) : "";
      if (terminal(s)) ++ended;
      if (s == "running") ++running;
    }
    if (ended == static_cast<int>(ids.size())) break;
    if (running == 0) {
      if (idle_polls++ == 0) idle_since = wall_now();
      if (idle_polls >= 3 && wall_now() - idle_since >= 3 * round_wall) {
        std::cerr << "sched replay: " << ids.size() - static_cast<std::size_t>(ended)
                  << " jobs wait with nothing running: the policy cannot place them; "
                     "cancelling them\n";
        cancel_all(last);
        break;
      }
    } else {
      idle_polls = 0;
    }
    if (wall_now() > t_begin + limit) {
      cancel_all(last);
      throw Error::runtime("replay did not finish within " + fmt_num(limit, 0) +
                           " s: " + std::to_string(ended) + " of " + std::to_string(ids.size()) +
                           " jobs ended (their jobs were cancelled)")
          .field("--timeout");
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(poll));
  }
  const double now = wall_now();
  std::vector<MeasuredJob> measured_jobs;
  for (long long id : ids) {
    if (!last.count(id)) throw Error::runtime("the daemon lost job " + std::to_string(id));
    measured_jobs.push_back(measured_job(last[id], now));
    // JCT counts from the job's arrival: a daemon slow to accept a submission delays the job.
    measured_jobs.back().submitted = arrival[measured_jobs.size() - 1];
  }
  const SimResult measured =
      measured_result(measured_jobs, policy_name, scale, cluster.total_gpus(), sim.round_s);

  const Json cmp = compare_runs(measured, predicted);
  Json per_job = Json::array();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const MeasuredJob& m = measured_jobs[i];
    per_job.push_back({{"trace_job", trace.jobs[i].id},
                       {"id", ids[i]},
                       {"state", m.state},
                       {"attempts", m.attempts},
                       {"measured_jct_s", measured.job_jct[i]},
                       {"simulated_jct_s", predicted.job_jct[i]}});
  }
  Json out = {{"trace", trace.name},
              {"cluster", info},
              {"policies", {{policy_name, run_metrics_json(measured)}}},
              {"simulated", {{"policies", {{policy_name, run_metrics_json(predicted)}}}}},
              {"compare", {{policy_name, cmp}}},
              {"replay",
               {{"jobs", ids.size()},
                {"job_ids", ids},
                {"time_scale", scale},
                {"round_seconds", round_wall},
                {"round_s", sim.round_s},
                {"start_latency_s", start_latency},
                {"wall_s", now - t_begin}}},
              {"jobs", per_job}};
  if (f.common.json) return write_json(std::cout, out);
  std::cout << "replay of " << ids.size() << " jobs of " << trace.name << " under " << policy_name
            << " on " << cluster.total_gpus() << " GPUs, time scale " << scale << ", round "
            << round_wall << " s wall (" << sim.round_s << " s simulated), "
            << fmt_num(now - t_begin, 1) << " s wall, start latency " << fmt_num(start_latency, 2)
            << " s\n";
  TextTable table({"figure", "measured", "simulated", "ratio"});
  for (const auto& [key, row] : cmp.items()) {
    table.add_row({key, fmt_num(row["measured"].get<double>(), 3),
                   fmt_num(row["simulated"].get<double>(), 3),
                   row["ratio"].is_null() ? "-" : fmt_num(row["ratio"].get<double>(), 3)});
  }
  table.print(std::cout);
}
}  // namespace

void register_replay(CLI::App& sched) {
  auto f = std::make_shared<ReplayFlags>();
  auto* cmd = sched.add_subcommand(
      "replay", "Replay a trace's jobs on a sched daemon; measured metrics beside the simulator's");
  cmd->add_option("--url", f->url, "Daemon URL (http://127.0.0.1:PORT)")->required();
  cmd->add_option("--trace", f->trace,
                  "philly | venus (= helios) | pai | synthetic:... | CSV path | Gavel trace");
  cmd->add_option("--jobs", f->jobs, "Replay the trace's first N jobs (0 = all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--time-scale", f->time_scale,
                  "Trace seconds per wall second (must match the daemon's; default: the daemon's)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--start-latency", f->start_latency,
                  "Wall seconds from sbatch to a running job, charged per start in the prediction "
                  "(default: measured with --probes one-iteration jobs before the replay)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--probes", f->probes, "Probe jobs measuring the start latency")
      ->check(CLI::Range(1, 20));
  cmd->add_option("--timeout", f->timeout,
                  "Wall seconds to wait for the jobs (default: from the predicted makespan)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--estimator", f->estimator, "db | analytical")
      ->check(CLI::IsMember({"db", "analytical"}));
  add_json_flag(*cmd, f->common);
  cmd->callback([f] { run_replay(*f); });
}

}  // namespace gearbox::apps::sched_cli
