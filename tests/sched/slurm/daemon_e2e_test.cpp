// `gearbox sched daemon --slurm` end to end on the local Slurm cluster (CTest fixture
// slurm_local): jobs submitted through the CLI client run to completion; bad submissions are
// refused naming the field; a daemon killed with SIGKILL mid-run and restarted on the same state
// finishes every job without submitting any attempt twice; a user's command gets its argument
// vector intact and the Cell in its environment; a failing command is retried up to the limit.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "daemon_rig.hpp"
#include "gearbox/core/paths.hpp"
#include "gearbox/testing/data.hpp"
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
  }
  std::unique_ptr<test::ChildProcess> start_daemon() { return rig_.start(); }
  testing::CliRun run(std::vector<std::string> args) { return rig_.run(std::move(args)); }
  long long submit(const std::string& model, int batch, int iterations, int gpus) {
    return rig_.submit(model, batch, iterations, gpus);
  }
  Json jobs() { return rig_.jobs(); }
  Json wait_all_finished(double limit_s) { return rig_.wait_all_done(limit_s); }

  testing::TempDir dir_;
  test::DaemonRig rig_{dir_.path(), {"--time-scale", "200"}};
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

// The program after `--` runs with its argument vector intact (no shell splits "a b") and the
// Cell it was placed on in its environment; it reports progress where the daemon reads it.
TEST_F(DaemonE2E, UserCommandGetsItsArgvAndTheCellInItsEnvironment) {
  GEARBOX_REQUIRE_FILE(std::optional<std::filesystem::path>("/usr/bin/python3"));
  auto daemon = start_daemon();
  const std::string script =
      "import json, os, sys\n"
      "env = {k: v for k, v in os.environ.items() if k.startswith('GEARBOX_')}\n"
      "ckpt = os.environ['GEARBOX_CHECKPOINT']\n"
      "with open(os.path.join(os.path.dirname(ckpt), 'seen.json'), 'w') as f:\n"
      "    json.dump({'argv': sys.argv[1:], 'env': env}, f)\n"
      "for path in (ckpt, os.environ['GEARBOX_PROGRESS']):\n"
      "    with open(path, 'w') as f:\n"
      "        f.write(os.environ['GEARBOX_ITERATIONS'] + '\\n')\n";
  const long long id = rig_.submit(
      "bert-760M", 128, 7, 2, {"--", "/usr/bin/python3", "-c", script, "a b", "--name", "c d"});
  ASSERT_GT(id, 0);
  const Json list = rig_.wait_all_done(120);
  ASSERT_EQ(list.size(), 1u);
  const Json& job = list[0];
  ASSERT_EQ(job["state"], "finished") << job.dump();
  ASSERT_EQ(job["attempts"].size(), 1u) << job.dump();
  const Json& attempt = job["attempts"][0];
  std::ifstream in(rig_.work_dir() / "seen.json");
  ASSERT_TRUE(in) << "the command wrote nothing";
  const Json seen = Json::parse(in);
  EXPECT_EQ(seen["argv"], Json::array({"a b", "--name", "c d"}));
  const Json& env = seen["env"];
  const std::string nodes = attempt["nodes"];
  const int hosts = static_cast<int>(std::count(nodes.begin(), nodes.end(), ',')) + 1;
  const int per_node = attempt["gpus_per_node"];
  EXPECT_EQ(env["GEARBOX_JOB_ID"], std::to_string(id));
  EXPECT_EQ(env["GEARBOX_ATTEMPT"], "1");
  EXPECT_EQ(env["GEARBOX_GPU_TYPE"], attempt["gpu_type"]);
  EXPECT_EQ(env["GEARBOX_NODELIST"], nodes);
  EXPECT_EQ(env["GEARBOX_NODES"], std::to_string(hosts));
  EXPECT_EQ(env["GEARBOX_GPUS_PER_NODE"], std::to_string(per_node));
  EXPECT_EQ(env["GEARBOX_GPUS"], std::to_string(hosts * per_node));
  EXPECT_EQ(env["GEARBOX_ITERATIONS"], "7");
  EXPECT_EQ(env["GEARBOX_BATCH"], "128");
  const int stages = std::stoi(env["GEARBOX_PIPELINE_STAGES"].get<std::string>());
  const int dp = std::stoi(env["GEARBOX_DP"].get<std::string>());
  const int tp = std::stoi(env["GEARBOX_TP"].get<std::string>());
  EXPECT_EQ(stages * dp * tp, hosts * per_node) << env.dump();
  EXPECT_EQ(std::filesystem::path(env["GEARBOX_CHECKPOINT"].get<std::string>()).parent_path(),
            rig_.work_dir());
  EXPECT_TRUE(env.contains("GEARBOX_PROGRESS"));
}

// A program that fails is retried until --max-failures (3 by default) attempts failed; the
// job then fails, and its record shows every failed attempt.
TEST_F(DaemonE2E, FailingCommandIsRetriedUpToTheLimitThenFails) {
  auto daemon = start_daemon();
  const long long id = rig_.submit("bert-760M", 128, 10, 1, {"--command", "/bin/false"});
  ASSERT_GT(id, 0);
  const Json list = rig_.wait_all_done(120);
  ASSERT_EQ(list.size(), 1u);
  const Json& job = list[0];
  EXPECT_EQ(job["state"], "failed") << job.dump();
  EXPECT_EQ(job["failures"], 3) << job.dump();
  EXPECT_EQ(job["max_failures"], 3) << job.dump();
  ASSERT_EQ(job["attempts"].size(), 3u) << job.dump();
  for (const auto& a : job["attempts"]) EXPECT_EQ(a["state"], "failed") << job.dump();
}

}  // namespace
}  // namespace gearbox::sched
