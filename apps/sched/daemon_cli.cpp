// `gearbox sched daemon --slurm ...`: Crius scheduling a Slurm cluster, with an HTTP JSON API;
// and its clients `gearbox sched submit|jobs|cancel --url U`.
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <memory>
#include <thread>

#include "daemon_client.hpp"
#include "gearbox/core/cli.hpp"
#include "gearbox/core/error.hpp"
#include "gearbox/core/output.hpp"
#include "gearbox/core/paths.hpp"
#include "gearbox/sched/command_runner.hpp"
#include "gearbox/sched/slurm_daemon.hpp"
#include "sched_commands.hpp"

namespace gearbox::apps::sched_cli {

namespace {
std::atomic<bool> g_stop{false};
extern "C" void on_stop(int) {
  g_stop = true;
}

double wall_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

struct DaemonFlags {
  bool slurm = false;
  std::string state, listen = "127.0.0.1:8470", policy = "crius", partition, estimator = "db";
  double round_seconds = 5, time_scale = 1, grace = 5;
  int max_failures = 3;
};

std::pair<std::string, int> host_port(const std::string& s, const char* flag) {
  const auto colon = s.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    try {
      port = std::stoi(s.substr(colon + 1));
    } catch (const std::exception&) {
    }
  }
  if (colon == std::string::npos || port <= 0 || port > 65535)
    throw Error::usage("expected HOST:PORT").field(flag).found(s);
  return {s.substr(0, colon), port};
}

void reply_error(httplib::Response& res, int status, const std::string& msg,
                 const std::string& field = "") {
  Json e = {{"error", msg}};
  if (!field.empty()) e["field"] = field;
  res.status = status;
  res.set_content(e.dump(), "application/json");
}

void run_daemon(const DaemonFlags& f) {
  using namespace gearbox::sched;
  if (!f.slurm) throw Error::usage("only the Slurm backend exists: pass --slurm").field("--slurm");
  if (f.state.empty()) throw Error::usage("required").field("--state");
  const auto [host, port] = host_port(f.listen, "--listen");
  DaemonOptions opt;
  opt.state = std::filesystem::absolute(f.state);
  opt.policy = f.policy;
  opt.round_seconds = f.round_seconds;
  opt.time_scale = f.time_scale;
  opt.partition = f.partition;
  opt.max_failures = f.max_failures;
  opt.grace_s = f.grace;
  opt.worker = {std::filesystem::canonical("/proc/self/exe").string(), "sched", "worker"};
  ProcessRunner runner;
  SlurmCli cli(runner);
  const auto est = make_estimator(f.estimator);
  SlurmDaemon daemon(opt, cli, *est);

  httplib::Server http;
  http.Post("/v1/jobs", [&](const httplib::Request& req, httplib::Response& res) {
    const Json body = Json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return reply_error(res, 400, "request body is not JSON");
    try {
      res.status = 201;
      res.set_content(daemon.submit(body).dump(), "application/json");
    } catch (const Error& e) {
      reply_error(res, e.kind() == ErrorKind::kRuntime ? 500 : 400, e.what(), e.field_name());
    }
  });
  http.Get("/v1/jobs", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(Json{{"jobs", daemon.jobs()}}.dump(), "application/json");
  });
  http.Get(R"(/v1/jobs/(\d+))", [&](const httplib::Request& req, httplib::Response& res) {
    const auto j = daemon.job(std::stoll(req.matches[1]));
    if (!j) return reply_error(res, 404, "no such job");
    res.set_content(j->dump(), "application/json");
  });
  http.Delete(R"(/v1/jobs/(\d+))", [&](const httplib::Request& req, httplib::Response& res) {
    if (!daemon.cancel(std::stoll(req.matches[1]))) return reply_error(res, 404, "no such job");
    res.set_content(R"({"cancelled": true})", "application/json");
  });
  http.Get("/v1/cluster", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(daemon.cluster_info().dump(), "application/json");
  });
  http.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"status": "ok"})", "application/json");
  });
  http.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(daemon.metrics(), "text/plain; version=0.0.4");
  });
  if (!http.bind_to_port(host, port))
    throw Error::runtime("cannot listen on " + f.listen).field("--listen");
  std::thread listener([&] { http.listen_after_bind(); });
  std::signal(SIGTERM, on_stop);
  std::signal(SIGINT, on_stop);
  std::cerr << "sched daemon: " << opt.policy << " on Slurm, listening on " << f.listen
            << ", state " << opt.state.string() << "\n";
  while (!g_stop) {
    const double start = wall_now();
    try {
      daemon.round(start);
    } catch (const Error& e) {
      std::cerr << "sched daemon: round failed: " << e.what() << "\n";
    }
    while (!g_stop && wall_now() < start + opt.round_seconds)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  http.stop();
  listener.join();
}

}  // namespace

void register_daemon(CLI::App& sched) {
  auto f = std::make_shared<DaemonFlags>();
  auto* cmd = sched.add_subcommand("daemon", "Schedule a Slurm cluster with Crius (HTTP API)");
  cmd->add_flag("--slurm", f->slurm, "Drive the Slurm cluster this machine's tools reach");
  cmd->add_option("--state", f->state, "SQLite state file (created if absent)")->required();
  cmd->add_option("--listen", f->listen, "HOST:PORT of the HTTP API");
  cmd->add_option("--policy", f->policy,
                  "crius, crius-dp, fcfs, gavel, gavel-thr, sia, elasticflow");
  cmd->add_option("--round-seconds", f->round_seconds, "Wall seconds between rounds")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--time-scale", f->time_scale, "Estimated seconds per wall second")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--partition", f->partition, "Slurm partition (default: all nodes)");
  cmd->add_option("--estimator", f->estimator, "db | analytical")
      ->check(CLI::IsMember({"db", "analytical"}));
  cmd->add_option("--grace", f->grace, "Seconds between USR1 and cancel on preemption")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-failures", f->max_failures, "Failed attempts before a job fails")
      ->check(CLI::PositiveNumber);
  cmd->callback([f] { run_daemon(*f); });

  struct SubmitFlags {
    CommonOptions common;
    std::string url, model, gpu_type, command;
    std::vector<std::string> argv;  // after `--`
    int batch = 0, gpus = 1;
    long long iterations = 0;
    double deadline = 0;
  };
  auto s = std::make_shared<SubmitFlags>();
  auto* sub = sched.add_subcommand("submit", "Submit a job to a sched daemon; prints its id");
  sub->add_option("--url", s->url, "Daemon URL (http://127.0.0.1:PORT)")->required();
  sub->add_option("--model", s->model, "Model (e.g. bert-1.3B)")->required();
  sub->add_option("--batch", s->batch, "Global batch")->required();
  sub->add_option("--iterations", s->iterations, "Iterations")->required();
  sub->add_option("--gpus", s->gpus, "Requested GPUs (the baselines use it)");
  sub->add_option("--gpu-type", s->gpu_type, "Requested GPU type");
  sub->add_option("--deadline", s->deadline, "Deadline, seconds after submission");
  sub->add_option("--command", s->command,
                  "The job's program, run without arguments (one path, never split; no shell)");
  sub->add_option("argv", s->argv,
                  "After --: the job's argument vector, each word kept whole (no shell)");
  add_common_flags(*sub, s->common);
  sub->callback([s] {
    Json body = {
        {"model", s->model}, {"batch", s->batch}, {"iterations", s->iterations}, {"gpus", s->gpus}};
    if (!s->gpu_type.empty()) body["gpu_type"] = s->gpu_type;
    if (s->deadline > 0) body["deadline"] = s->deadline;
    if (!s->command.empty() && !s->argv.empty())
      throw Error::usage("give the command either as --command PROGRAM or after --, not both")
          .field("--command");
    if (!s->command.empty()) body["command"] = Json::array({s->command});
    if (!s->argv.empty()) body["command"] = s->argv;
    const Json job = Json::parse(daemon_call(s->url, "POST", "/v1/jobs", body.dump()));
    if (s->common.json) {
      write_json(std::cout, job);
    } else {
      std::cout << job["id"].get<long long>() << "\n";
    }
  });

  struct ListFlags {
    CommonOptions common;
    std::string url;
  };
  auto l = std::make_shared<ListFlags>();
  auto* jobs = sched.add_subcommand("jobs", "List a sched daemon's jobs");
  jobs->add_option("--url", l->url, "Daemon URL")->required();
  add_common_flags(*jobs, l->common);
  jobs->callback([l] {
    const Json doc = Json::parse(daemon_call(l->url, "GET", "/v1/jobs"));
    if (l->common.json) return write_json(std::cout, doc);
    TextTable t({"id", "model", "batch", "state", "progress", "attempts", "placement"});
    for (const auto& j : doc["jobs"]) {
      std::string where;
      if (!j["attempts"].empty()) {
        const auto& a = j["attempts"].back();
        where = a["gpu_type"].get<std::string>() + " x" +
                std::to_string(a["gpus_per_node"].get<int>()) + " on " +
                a["nodes"].get<std::string>();
      }
      t.add_row({std::to_string(j["id"].get<long long>()), j["model"].get<std::string>(),
                 std::to_string(j["batch"].get<int>()), j["state"].get<std::string>(),
                 std::to_string(j["progress"].get<long long>()) + "/" +
                     std::to_string(j["iterations"].get<long long>()),
                 std::to_string(j["attempts"].size()), where});
    }
    t.print(std::cout);
  });

  auto c = std::make_shared<ListFlags>();
  auto id = std::make_shared<long long>(0);
  auto* cancel = sched.add_subcommand("cancel", "Cancel a job of a sched daemon");
  cancel->add_option("--url", c->url, "Daemon URL")->required();
  cancel->add_option("id", *id, "Job id")->required();
  cancel->callback([c, id] {
    daemon_call(c->url, "DELETE", "/v1/jobs/" + std::to_string(*id));
    std::cout << "cancelled " << *id << "\n";
  });
}

}  // namespace gearbox::apps::sched_cli
