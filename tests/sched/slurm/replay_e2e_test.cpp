// `gearbox sched replay` end to end on the local Slurm cluster (CTest fixture slurm_local): the
// first philly jobs, time-scaled, replayed through a real daemon; the output puts the measured
// figures beside the simulator's, and every replayed job finished exactly once.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "daemon_rig.hpp"
#include "gearbox/core/output.hpp"
#include "gearbox/core/paths.hpp"
#include "gearbox/sched/command_runner.hpp"
#include "gearbox/sched/slurm_cli.hpp"
#include "gearbox/testing/data.hpp"
#include "gearbox/testing/run_cli.hpp"
#include "gearbox/testing/temp_dir.hpp"

namespace gearbox::sched {
namespace {

const std::filesystem::path kClusterDir = GEARBOX_SLURM_DIR;

TEST(ReplayE2E, ThreePhillyJobsMeasuredBesideTheSimulator) {
  const auto data = data_dir();
  GEARBOX_REQUIRE_FILE(data ? std::optional(*data / "crius" / "prof_database_optimal.json")
                            : std::nullopt);
  GEARBOX_REQUIRE_FILE(data
                           ? std::optional(*data / "crius" / "traces" / "simulate_trace_philly.csv")
                           : std::nullopt);
  const auto conf = kClusterDir / "slurm.conf";
  ASSERT_TRUE(std::filesystem::exists(conf)) << "no local cluster at " << kClusterDir;
  ::setenv("SLURM_CONF", conf.c_str(), 1);
  const testing::TempDir dir;
  const int port = test::free_port();
  ASSERT_GT(port, 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  test::ChildProcess daemon(
      {GEARBOX_BINARY, "sched", "daemon", "--slurm", "--state",
       (dir.path() / "state.sqlite").string(), "--listen", "127.0.0.1:" + std::to_string(port),
       "--policy", "crius", "--round-seconds", "0.5", "--time-scale", "20000", "--partition",
       "gearbox", "--grace", "2"},
      dir.path() / "daemon.log");
  ASSERT_TRUE(daemon.started());
  bool up = false;
  for (int i = 0; i < 240 && !up; ++i) {
    up = testing::run_argv({GEARBOX_BINARY, "sched", "jobs", "--url", url}).code == 0;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_TRUE(up) << "daemon did not answer within 60 s";

  const auto r = testing::run_argv({GEARBOX_BINARY, "sched", "replay", "--url", url, "--trace",
                                    "philly", "--jobs", "3", "--probes", "1", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const Json out = Json::parse(r.out);
  // The measured run in `sched simulate --json`'s shape, the prediction beside it.
  const Json& measured = out["policies"]["crius"];
  const Json& simulated = out["simulated"]["policies"]["crius"];
  for (const char* key : {"avg_jct_s", "p50_jct_s", "p99_jct_s", "avg_queue_s", "makespan_s",
                          "finished", "gpu_util", "reschedules"}) {
    EXPECT_TRUE(measured.contains(key)) << key;
    EXPECT_TRUE(simulated.contains(key)) << key;
    const Json& row = out["compare"]["crius"][key];
    EXPECT_EQ(row["measured"], measured[key]) << key;
    EXPECT_EQ(row["simulated"], simulated[key]) << key;
  }
  EXPECT_EQ(measured["finished"], 3);
  EXPECT_EQ(simulated["finished"], 3);
  EXPECT_GT(measured["avg_jct_s"].get<double>(), 0);
  EXPECT_GT(out["compare"]["crius"]["avg_jct_s"]["ratio"].get<double>(), 0);
  EXPECT_EQ(out["cluster"]["gpus"], 16);
  EXPECT_EQ(out["replay"]["round_s"].get<double>(), 0.5 * 20000);
  ASSERT_EQ(out["jobs"].size(), 3u);
  std::set<long long> ids;
  for (const auto& j : out["jobs"]) {
    ids.insert(j["id"].get<long long>());
    EXPECT_GT(j["measured_jct_s"].get<double>(), 0) << j.dump();
    EXPECT_GT(j["simulated_jct_s"].get<double>(), 0) << j.dump();
  }

  // Every replayed job finished once: one finished attempt, every attempt a distinct Slurm job.
  const auto list = testing::run_argv({GEARBOX_BINARY, "sched", "jobs", "--url", url, "--json"});
  ASSERT_EQ(list.code, 0) << list.err;
  ProcessRunner runner;
  SlurmCli cli(runner);
  std::map<std::string, int> in_slurm;
  for (const auto& sj : cli.jobs()) ++in_slurm[sj.name];
  std::set<std::string> names;
  int replayed = 0;
  const Json doc = Json::parse(list.out);
  for (const auto& j : doc["jobs"]) {
    if (!ids.count(j["id"].get<long long>())) continue;  // the latency probes
    ++replayed;
    EXPECT_EQ(j["state"], "finished") << j.dump();
    EXPECT_EQ(j["progress"], j["iterations"]) << j.dump();
    int finished = 0;
    for (const auto& a : j["attempts"]) {
      finished += a["state"] == "finished";
      EXPECT_TRUE(names.insert(a["name"].get<std::string>()).second) << a.dump();
      EXPECT_EQ(in_slurm[a["name"].get<std::string>()], 1) << a.dump();
    }
    EXPECT_EQ(finished, 1) << j.dump();
  }
  EXPECT_EQ(replayed, 3);
}

}  // namespace
}  // namespace gearbox::sched
