// Scheduling speed as the cluster grows: synthetic traces on arena-mix clusters of about 1k, 4k
// and 10k GPUs (2 jobs per GPU, arrivals scaled with the cluster), each policy simulated to
// completion. Prints simulator wall time and scheduling time per round beside the issue's
// budgets (the anchor: the artifact's Python simulator is not runnable here). ms/round is per
// scheduling pass (round boundaries and, unless --round-only 1, departures inside a round);
// max pass: the longest pass in wall time and in this thread's CPU time (a loaded machine
// inflates wall time when it preempts the thread).
//   sched_scale_bench [--gpus 1280,4096,10240] [--policies crius,fcfs,...] [--estimator db]
//                     [--round-only 0|1]
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "gearbox/core/error.hpp"
#include "gearbox/sched/simulator.hpp"

namespace {
std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string x;
  while (std::getline(ss, x, ','))
    if (!x.empty()) out.push_back(x);
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  using namespace gearbox::sched;
  std::string gpus = "1280,4096,10240", policies = "crius,fcfs,gavel,sia,elasticflow";
  std::string estimator = "db";
  SimOptions opt;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--gpus")
      gpus = argv[i + 1];
    else if (k == "--policies")
      policies = argv[i + 1];
    else if (k == "--estimator")
      estimator = argv[i + 1];
    else if (k == "--round-only" &&
             (std::string(argv[i + 1]) == "0" || std::string(argv[i + 1]) == "1"))
      opt.round_only = std::string(argv[i + 1]) == "1";
    else {
      std::fprintf(stderr, "unknown flag or bad value: %s\n", k.c_str());
      return 2;
    }
  }
  try {
    const auto est = make_estimator(estimator);
    std::printf("%-8s %-12s %8s %9s %8s %10s %10s %12s %13s %12s %9s\n", "gpus", "policy", "jobs",
                "finished", "rounds", "sim s", "ms/round", "max pass ms", "max pass cpu",
                "pass budget", "budget s");
    for (const auto& g : split(gpus)) {
      const int n = std::atoi(g.c_str());
      const Cluster cluster = Cluster::scaled(n);
      const int jobs = 2 * cluster.total_gpus();
      // About 6 arrivals per hour per 100 GPUs keeps the cluster busy but not swamped.
      const Trace trace =
          synthetic_trace({jobs, 0.06 * cluster.total_gpus(), 1}, ModelCatalog::shared());
      for (const auto& p : split(policies)) {
        auto policy = make_policy(p);
        const SimResult r = simulate(trace, cluster, *est, *policy, opt);
        // The budgets: a scheduling pass under 50 ms at 1,280 GPUs; a simulation of
        // 10k GPUs under 60 s.
        std::printf("%-8d %-12s %8d %9d %8d %10.2f %10.3f %12.3f %13.3f %12s %9s\n",
                    cluster.total_gpus(), r.policy.c_str(), jobs, r.finished, r.rounds,
                    r.sim_wall_s, r.sched_ms_per_round, r.sched_ms_max_pass,
                    r.sched_cpu_ms_max_pass, cluster.total_gpus() <= 1280 ? "50 ms" : "-",
                    cluster.total_gpus() >= 10000 ? "60" : "-");
        std::fflush(stdout);
      }
    }
  } catch (const gearbox::Error& e) {
    std::fprintf(stderr, "sched_scale_bench: %s\n", e.what());
    return e.exit_code();
  }
  return 0;
}
