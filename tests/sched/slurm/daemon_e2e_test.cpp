// `gearbox sched daemon --slurm` end to end on the local Slurm cluster (CTest fixture
// slurm_local): jobs submitted through the CLI client run to completion; bad submissions are
// refused naming the field; a daemon killed with SIGKILL mid-run and restarted on the same state
// finishes every job without submitting any attempt twice.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.hpp"
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

class DaemonE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto data = data_dir();
    GEARBOX_REQUIRE_FILE(data ? std::optional(*data / "crius" / "prof_database_optimal.json")
                              : std::nullopt);
    const auto conf = kClusterDir / "slurm.conf";
    ASSERT_TRUE(std::filesystem::exists(conf)) << "no local cluster at " << kClusterDir;
    ::setenv("SLURM_CONF", conf.c_str(), 1);
    port_ = free_port();
    ASSERT_GT(port_, 0);
    url_ = "http://127.0.0.1:" + std::to_string(port_);
  }
  std::unique_ptr<Daemon> start_daemon() {
    auto d = std::make_unique<Daemon>(
        std::vector<std::string>{GEARBOX_BINARY, "sched", "daemon", "--slurm", "--state",
                                 (dir_.path() / "state.sqlite").string(), "--listen",
                                 "127.0.0.1:" + std::to_string(port_), "--round-seconds", "0.5",
                                 "--time-scale", "200", "--partition", "gearbox", "--grace", "2"},
        dir_.path() / "daemon.log");
    EXPECT_TRUE(d->started());
    // Up when the jobs list answers (loading the profile database takes a few seconds).
    for (int i = 0; i < 240; ++i) {
      if (run({"jobs"}).code == 0) return d;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    ADD_FAILURE() << "daemon did not answer within 60 s";
    return d;
  }
  testing::CliRun run(std::vector<std::string> args) {
    args.insert(args.begin(), {GEARBOX_BINARY, "sched"});
    args.push_back("--url");
    args.push_back(url_);
    return testing::run_argv(args);
  }
  long long submit(const std::string& model, int batch, int iterations, int gpus) {
    const auto r =
        run({"submit", "--model", model, "--batch", std::to_string(batch), "--iterations",
             std::to_string(iterations), "--gpus", std::to_string(gpus)});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.code == 0 ? std::stoll(r.out) : 0;
  }
  Json jobs() {
    const auto r = run({"jobs", "--json"});
    if (r.code != 0) return Json::array();
    return Json::parse(r.out)["jobs"];
  }
  // Waits until every job is finished (or `limit_s`); returns the last list.
  Json wait_all_finished(double limit_s) {
    Json list;
    const auto stop = std::chrono::steady_clock::now() + std::chrono::duration<double>(limit_s);
    while (std::chrono::steady_clock::now() < stop) {
      list = jobs();
      bool all = !list.empty();
      for (const auto& j : list) all = all && j["state"] == "finished";
      if (all) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return list;
  }

  testing::TempDir dir_;
  int port_ = 0;
  std::string url_;
};

TEST_F(DaemonE2E, RunsSubmittedJobsToCompletionAndRefusesBadOnes) {
  auto daemon = start_daemon();
  const auto unknown =
      run({"submit", "--model", "no-such-model", "--batch", "128", "--iterations", "10"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.err.find("'model'"), std::string::npos) << unknown.err;
  const auto zero = run(
      {"submit", "--model", "bert-760M", "--batch", "128", "--iterations", "10", "--gpus", "0"});
  EXPECT_EQ(zero.code, 2);
  EXPECT_NE(zero.err.find("'gpus'"), std::string::npos) << zero.err;
  const long long a = submit("bert-760M", 128, 150, 2);
  const long long b = submit("bert-1.3B", 256, 150, 4);
  EXPECT_NE(a, b);
  const Json list = wait_all_finished(120);
  ASSERT_EQ(list.size(), 2u);
  for (const auto& j : list) {
    EXPECT_EQ(j["state"], "finished") << j.dump();
    EXPECT_EQ(j["progress"], j["iterations"]) << j.dump();
    EXPECT_GE(j["attempts"].size(), 1u);
  }
}

TEST_F(DaemonE2E, KilledDaemonRestartsWithoutDuplicateSubmissions) {
  auto daemon = start_daemon();
  for (int k = 0; k < 3; ++k) submit("bert-760M", 128, 400, 1);
  // Mid-run: some job has an attempt in Slurm.
  for (int i = 0; i < 120; ++i) {
    bool running = false;
    for (const auto& j : jobs()) running = running || j["state"] == "running";
    if (running) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  daemon->stop(SIGKILL);
  daemon = start_daemon();
  const Json list = wait_all_finished(180);
  ASSERT_EQ(list.size(), 3u);
  // Every attempt the state records is one Slurm job, none submitted twice.
  ProcessRunner runner;
  SlurmCli cli(runner);
  std::map<std::string, int> in_slurm;
  for (const auto& sj : cli.jobs()) ++in_slurm[sj.name];
  std::set<std::string> names;
  for (const auto& j : list) {
    EXPECT_EQ(j["state"], "finished") << j.dump();
    EXPECT_EQ(j["progress"], j["iterations"]) << j.dump();
    for (const auto& a : j["attempts"]) {
      const std::string name = a["name"];
      EXPECT_TRUE(names.insert(name).second) << "attempt recorded twice: " << name;
      if (a["state"] != "lost") {
        EXPECT_EQ(in_slurm[name], 1) << name;
      }
    }
  }
  // And Slurm ran no job of this daemon that the state does not know.
  const std::string prefix = names.begin()->substr(0, names.begin()->rfind('-'));
  const std::string daemon_prefix = prefix.substr(0, prefix.rfind('-') + 1);
  for (const auto& [name, n] : in_slurm) {
    if (name.rfind(daemon_prefix, 0) == 0) {
      EXPECT_TRUE(names.count(name)) << name;
    }
  }
}

}  // namespace
}  // namespace gearbox::sched
