// `gearbox sched simulate`: a trace through one or more policies on a simulated cluster.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "gearbox/core/cli.hpp"
#include "gearbox/core/error.hpp"
#include "gearbox/core/output.hpp"
#include "gearbox/core/threads.hpp"
#include "gearbox/sched/replay.hpp"
#include "gearbox/sched/simulator.hpp"
#include "sched_commands.hpp"

namespace gearbox::apps::sched_cli {

namespace {
struct SimulateOptions {
  CommonOptions common;  // --json; --threads: policies simulated at once (set to 1 below)
  std::uint64_t seed_value = 0;
  std::optional<std::uint64_t> seed;  // a synthetic trace's seed, when --seed is given
  std::string trace = "philly";
  std::string cluster = "arena-1280";
  std::string policies = "crius,fcfs,gavel,sia,elasticflow";
  std::string estimator = "db";
  int max_rounds = 0;
  bool round_only = false;
  std::string dump_dir;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

void dump(const std::filesystem::path& dir, const gearbox::sched::SimResult& r) {
  std::filesystem::create_directories(dir);
  std::ofstream thr(dir / (r.policy + "_thr.csv"));
  thr << "round,throughput\n";
  for (std::size_t i = 0; i < r.round_throughput.size(); ++i)
    thr << i << ',' << r.round_throughput[i] << '\n';
  std::ofstream jct(dir / (r.policy + "_jct.csv"));
  jct << "jct_s\n";
  for (double j : r.jcts) jct << j << '\n';
  if (!thr || !jct) throw Error::runtime("cannot write results").at(dir.string());
}

// Simulates the trace under every policy, up to `threads` policies at once (each simulation
// is sequential and deterministic; the results come back in policy order whatever the count).
std::vector<gearbox::sched::SimResult> simulate_all(
    const std::vector<std::unique_ptr<gearbox::sched::Policy>>& policies,
    const gearbox::sched::Trace& trace, const gearbox::sched::Cluster& cluster,
    const gearbox::sched::Estimator& est, const gearbox::sched::SimOptions& sim, int threads) {
  const std::size_t n = policies.size();
  std::vector<gearbox::sched::SimResult> results(n);
  std::vector<std::exception_ptr> errors(n);
  std::atomic<std::size_t> next{0};
  std::mutex log;
  auto work = [&] {
    for (std::size_t i = next++; i < n; i = next++) {
      {
        const std::lock_guard<std::mutex> lock(log);
        std::cerr << "sched simulate: " << policies[i]->name() << " on " << trace.name << " ("
                  << trace.jobs.size() << " jobs, " << cluster.total_gpus() << " GPUs)\n";
      }
      try {
        results[i] = gearbox::sched::simulate(trace, cluster, est, *policies[i], sim);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  const std::size_t workers =
      std::min<std::size_t>(n, static_cast<std::size_t>(threads > 0 ? threads : default_threads()));
  std::vector<std::thread> pool;
  for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  return results;
}

void run_simulate(const SimulateOptions& o) {
  using namespace gearbox::sched;
  const auto names = split(o.policies);
  if (names.empty()) throw Error::usage("no policy given").field("--policy");
  std::vector<std::unique_ptr<Policy>> policies;
  for (const auto& n : names) policies.push_back(make_policy(n));
  const ModelCatalog& models = ModelCatalog::shared();
  TraceOptions topt;
  topt.synthetic_seed = o.seed;
  const Trace trace = trace_from_spec(o.trace, models, topt);
  const Cluster cluster = Cluster::from_spec(o.cluster);
  const auto est = make_estimator(o.estimator);
  Json out = {{"trace", trace.name}, {"cluster", cluster.name()}, {"policies", Json::object()}};
  TextTable table({"policy", "finished", "avg JCT h", "common JCT h", "padded JCT h", "p50 JCT h",
                   "p99 JCT h", "avg queue h", "makespan h", "avg thr", "peak thr", "GPU util",
                   "ddl met", "resched", "rounds", "sim s", "ms/round"});
  SimOptions sim;
  sim.max_rounds = o.max_rounds;
  sim.round_only = o.round_only;
  std::vector<SimResult> results;
  try {
    if (sim.max_rounds == 0) check_trace_fits_horizon(trace, cluster, *est);
    results = simulate_all(policies, trace, cluster, *est, sim, o.common.threads);
  } catch (Error& e) {
    // The simulator knows jobs, not files: name the trace a bad job came from.
    if (e.kind() == ErrorKind::kInput && e.file().empty()) e.at(o.trace);
    throw;
  }
  if (!o.dump_dir.empty())
    for (const SimResult& r : results) dump(o.dump_dir, r);
  const CrossPolicyJct cross = cross_policy_jct(results);
  out["common_jobs"] = cross.common_jobs;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const SimResult& r = results[i];
    Json m = run_metrics_json(r);
    m["avg_jct_common_s"] = cross.avg_jct_common_s[i];
    m["avg_jct_padded_s"] = cross.avg_jct_padded_s[i];
    out["policies"][r.policy] = m;
    const double h = 3600;
    table.add_row(
        {r.policy, std::to_string(r.finished) + "/" + std::to_string(r.arrived),
         fmt_num(r.avg_jct_s / h, 2), fmt_num(cross.avg_jct_common_s[i] / h, 2),
         fmt_num(cross.avg_jct_padded_s[i] / h, 2), fmt_num(r.p50_jct_s / h, 2),
         fmt_num(r.p99_jct_s / h, 2), fmt_num(r.avg_queue_s / h, 2), fmt_num(r.makespan_s / h, 1),
         fmt_num(r.avg_throughput, 0), fmt_num(r.peak_throughput, 0), fmt_num(r.gpu_util, 3),
         fmt_num(r.deadline_met, 3), std::to_string(r.reschedules), std::to_string(r.rounds),
         fmt_num(r.sim_wall_s, 3), fmt_num(r.sched_ms_per_round, 3)});
  }
  if (o.common.json) {
    write_json(std::cout, out);
    return;
  }
  std::cout << "trace " << trace.name << " (" << trace.jobs.size() << " jobs), cluster "
            << cluster.name() << " (" << cluster.total_gpus() << " GPUs), estimator " << est->name()
            << ", "
            << (o.max_rounds > 0 ? "max " + std::to_string(o.max_rounds) + " rounds"
                                 : std::string("to completion"))
            << "; common JCT over the " << cross.common_jobs
            << " jobs every policy finished, padded JCT by the artifact's plot "
               "rule\n";
  table.print(std::cout);
}
}  // namespace

void register_simulate(CLI::App& sched) {
  auto o = std::make_shared<SimulateOptions>();
  auto* cmd = sched.add_subcommand("simulate", "Simulate a trace under scheduling policies");
  cmd->add_option("--trace", o->trace,
                  "philly | venus (= helios) | pai | "
                  "synthetic:jobs=N,rate=R,seed=S | CSV path | "
                  "Gavel trace (*.trace or gavel:PATH)");
  cmd->add_option("--cluster", o->cluster, "arena-1280 | arena:gpus=N | cluster JSON path");
  cmd->add_option("--policy", o->policies,
                  "Comma-separated: crius, crius-dp, fcfs, gavel, gavel-thr, "
                  "sia, elasticflow");
  cmd->add_option("--estimator", o->estimator, "db (artifact profile database) | analytical")
      ->check(CLI::IsMember({"db", "analytical"}));
  cmd->add_option("--max-rounds", o->max_rounds,
                  "Stop after N rounds of 300 s (0 = completion, within " +
                      std::to_string(gearbox::sched::kMaxSimRounds) + " rounds)")
      ->check(CLI::Range(0, gearbox::sched::kMaxSimRounds));
  cmd->add_flag("--round-only", o->round_only,
                "Schedule only every 300 s as the artifact's simulator "
                "(default: also at each "
                "departure, at its time)");
  cmd->add_option("--dump", o->dump_dir, "Write <policy>_thr.csv and <policy>_jct.csv here");
  add_json_flag(*cmd, o->common);
  o->common.threads = 1;  // one policy at a time unless --threads says otherwise
  add_threads_flag(*cmd, o->common);
  cmd->add_option("--seed", o->seed_value,
                  "Seed of a synthetic trace whose spec gives no seed= (default 1)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([o, cmd] {
    if (cmd->count("--seed") > 0) o->seed = o->seed_value;
    run_simulate(*o);
  });
}

}  // namespace gearbox::apps::sched_cli
