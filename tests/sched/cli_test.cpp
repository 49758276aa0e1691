// The sched commands (cells, simulate, estimate-check) run as a user runs them: the gearbox
// binary with an argument vector. The contract: --json prints exactly one JSON document on
// stdout; a bad flag exits 2 with one line on stderr; a bad input file exits 2 with one line
// naming the file and the field.
#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gearbox/core/paths.hpp"
#include "gearbox/testing/data.hpp"
#include "gearbox/testing/run_cli.hpp"
#include "gearbox/testing/temp_dir.hpp"

namespace gearbox {
namespace {

using testing::CliRun;

CliRun gearbox_run(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
  args.insert(args.begin(), GEARBOX_BINARY);
  return testing::run_argv(args, env);
}

// A file of the artifact's data, or nullopt when the shared data folder is absent.
std::optional<std::filesystem::path> crius_file(const char* name) {
  if (const auto dir = data_dir()) return *dir / "crius" / name;
  return std::nullopt;
}

// stdout parsed as exactly one JSON document (parse() refuses anything after it).
nlohmann::json one_document(const CliRun& r) {
  try {
    return nlohmann::json::parse(r.out);
  } catch (const nlohmann::json::exception& e) {
    ADD_FAILURE() << "stdout is not one JSON document: " << e.what() << "\n"
                  << r.out.substr(0, 400);
    return nullptr;
  }
}

// Exit 2, nothing on stdout, one line on stderr that contains every one of `names`.
void expect_one_line_error(const CliRun& r, const std::vector<std::string>& names) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(r.out, "");
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "more than one line:\n" << r.err;
  EXPECT_EQ(r.err.rfind("gearbox: error: ", 0), 0u) << r.err;
  for (const auto& n : names) EXPECT_NE(r.err.find(n), std::string::npos) << n << " in " << r.err;
}

// A simulate result without its wall-clock fields (the rest is deterministic).
nlohmann::json without_timing(nlohmann::json doc) {
  for (auto& [name, p] : doc["policies"].items()) {
    p.erase("sim_wall_s");
    p.erase("sched_ms_per_round");
  }
  return doc;
}

const char* kHeader =
    "job_id,submission_time,num_iteration,model_name,deadline,batch_size,num_gpu,gpu_type\n";

TEST(SchedCli, BadFlagsAreOneLineUsageErrors) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"sched", "cells", "--model", "bert-1.3B", "--bogus"},
           {"sched", "cells", "--model", "bert-1.3B", "--batch", "0"},
           {"sched", "simulate", "--bogus"},
           {"sched", "simulate", "--max-rounds", "-1"},
           {"sched", "simulate", "--max-rounds", "2000001"},
           {"sched", "simulate", "--threads", "x"},
           {"sched", "simulate", "--seed", "-1"},
           {"sched", "estimate-check", "--bogus"},
       }) {
    SCOPED_TRACE(args[1] + " " + args.back());
    expect_one_line_error(gearbox_run(args), {});
  }
}

// --threads and --seed did nothing on cells and estimate-check (no parallel work, no
// randomness there): they are gone, so passing them is an error rather than a silent no-op.
TEST(SchedCli, CellsAndEstimateCheckTakeNoThreadsOrSeed) {
  for (const char* flag : {"--threads", "--seed"}) {
    expect_one_line_error(gearbox_run({"sched", "cells", "--model", "bert-1.3B", flag, "2"}),
                          {flag});
    expect_one_line_error(gearbox_run({"sched", "estimate-check", flag, "2"}), {flag});
  }
}

TEST(SchedCli, CellsJsonIsOneDocument) {
  GEARBOX_REQUIRE_FILE(crius_file("prof_database_optimal.json"));
  const CliRun r = gearbox_run({"sched", "cells", "--model", "bert-1.3B", "--batch", "256",
                                "--cluster", "arena:gpus=64", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto doc = one_document(r);
  EXPECT_EQ(doc["model"], "bert-1.3B");
  ASSERT_TRUE(doc["list"].is_array());
  EXPECT_EQ(doc["cells"], doc["list"].size());
  EXPECT_GT(doc["feasible_cells"].get<int>(), 0);
}

TEST(SchedCli, CellsBadClusterFileNamesFileAndField) {
  GEARBOX_REQUIRE_FILE(crius_file("hardware_model_spec.json"));
  const testing::TempDir dir;
  const auto bad =
      dir.write("c.json", R"({"pools": [{"gpu": "a100", "nodes": "many", "gpus_per_node": 4}]})");
  expect_one_line_error(
      gearbox_run({"sched", "cells", "--model", "bert-1.3B", "--cluster", bad.string()}),
      {bad.string(), "pools[0].nodes"});
  // Three pools of 1,000,000 x 1024 GPUs overflowed the total to "-1222967296 GPUs".
  const auto huge =
      dir.write("huge.json", R"({"pools": [{"gpu": "a100", "nodes": 1000000, "gpus_per_node": 1024},
                                 {"gpu": "v100", "nodes": 1000000, "gpus_per_node": 1024},
                                 {"gpu": "a40", "nodes": 1000000, "gpus_per_node": 1024}]})");
  expect_one_line_error(
      gearbox_run({"sched", "cells", "--model", "bert-1.3B", "--cluster", huge.string()}),
      {huge.string(), "pools[0].nodes", "cluster too large"});
  expect_one_line_error(
      gearbox_run({"sched", "cells", "--model", "bert-1.3B", "--cluster", "/dev/zero"}),
      {"/dev/zero", "not a regular file"});
}

TEST(SchedCli, SimulateJsonIsOneDocument) {
  GEARBOX_REQUIRE_FILE(crius_file("prof_database_optimal.json"));
  const CliRun r = gearbox_run({"sched", "simulate", "--trace", "synthetic:jobs=20,rate=60",
                                "--cluster", "arena:gpus=64", "--policy", "fcfs,crius", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto doc = one_document(r);
  ASSERT_TRUE(doc["policies"].contains("fcfs"));
  ASSERT_TRUE(doc["policies"].contains("crius"));
  EXPECT_GT(doc["policies"]["crius"]["finished"].get<int>(), 0);
  EXPECT_LE(doc["policies"]["crius"]["finished"].get<int>(), 20);
  EXPECT_GE(doc["policies"]["fcfs"]["gpu_util"].get<double>(), 0);
  EXPECT_LE(doc["policies"]["fcfs"]["gpu_util"].get<double>(), 1);
}

TEST(SchedCli, SimulateBadInputsNameFileAndField) {
  GEARBOX_REQUIRE_FILE(crius_file("hardware_model_spec.json"));
  const testing::TempDir dir;
  const std::vector<std::string> sim = {"sched", "simulate",  "--policy",
                                        "fcfs",  "--cluster", "arena:gpus=64"};
  auto with = [&](std::vector<std::string> extra) {
    auto args = sim;
    args.insert(args.end(), extra.begin(), extra.end());
    return gearbox_run(args);
  };
  const auto bad_row =
      dir.write("bad.csv", std::string(kHeader) + "a,0,100,bert__1.3B,0,256,3,a100\n");
  expect_one_line_error(with({"--trace", bad_row.string()}), {bad_row.string() + ":2", "num_gpu"});
  // 1e12 iterations (the parser's maximum) ran until memory ran out; refused before simulating.
  const auto huge =
      dir.write("huge.csv", std::string(kHeader) + "a,0,1000000000000,bert__1.3B,0,256,4,a100\n");
  expect_one_line_error(with({"--trace", huge.string()}), {huge.string(), "num_iteration"});
  // /dev/zero was read until 4.4 GB.
  expect_one_line_error(with({"--trace", "/dev/zero"}), {"/dev/zero", "not a regular file"});
  // jobs=0.5 ran an empty simulation with exit 0.
  expect_one_line_error(with({"--trace", "synthetic:jobs=0.5"}), {"synthetic:jobs", "0.5"});
  const auto huge_cluster =
      dir.write("huge.json", R"({"pools": [{"gpu": "a100", "nodes": 1000000, "gpus_per_node": 1024},
                                 {"gpu": "v100", "nodes": 1000000, "gpus_per_node": 1024},
                                 {"gpu": "a40", "nodes": 1000000, "gpus_per_node": 1024}]})");
  expect_one_line_error(gearbox_run({"sched", "simulate", "--trace", "synthetic:jobs=5", "--policy",
                                     "fcfs", "--cluster", huge_cluster.string()}),
                        {huge_cluster.string(), "pools[0].nodes"});
}

// --seed seeds a synthetic trace: the same seed repeats the output exactly, another seed gives
// another trace (so other results), the spec's seed= and --seed agree, and two different
// seeds are refused. --threads runs policies at once without changing any result.
TEST(SchedCli, SimulateSeedAndThreadsDoWhatTheySay) {
  GEARBOX_REQUIRE_FILE(crius_file("prof_database_optimal.json"));
  auto run = [](const std::string& trace, std::vector<std::string> extra) {
    std::vector<std::string> args = {"sched",    "simulate",         "--trace",
                                     trace,      "--cluster",        "arena:gpus=64",
                                     "--policy", "fcfs,crius,gavel", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const CliRun r = gearbox_run(args);
    EXPECT_EQ(r.code, 0) << r.err;
    return without_timing(one_document(r));
  };
  const std::string trace = "synthetic:jobs=30,rate=40";
  const auto five = run(trace, {"--seed", "5"});
  EXPECT_EQ(run(trace, {"--seed", "5"}), five);
  EXPECT_EQ(run(trace + ",seed=5", {}).at("policies"), five.at("policies"));
  const auto six = run(trace, {"--seed", "6"});
  EXPECT_NE(six.at("policies").at("fcfs").at("avg_jct_s"),
            five.at("policies").at("fcfs").at("avg_jct_s"));
  EXPECT_EQ(run(trace, {}).at("policies"), run(trace + ",seed=1", {}).at("policies"));
  expect_one_line_error(gearbox_run({"sched", "simulate", "--trace", trace + ",seed=5", "--seed",
                                     "6", "--policy", "fcfs"}),
                        {"--seed"});
  EXPECT_EQ(run(trace, {"--seed", "5", "--threads", "3"}), five);
  EXPECT_EQ(run(trace, {"--seed", "5", "--threads", "0"}), five);
}

TEST(SchedCli, EstimateCheckJsonIsOneDocument) {
  GEARBOX_REQUIRE_FILE(crius_file("prof_database_optimal.json"));
  const CliRun r = gearbox_run({"sched", "estimate-check", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto doc = one_document(r);
  EXPECT_GT(doc["check_entries"].get<int>(), 0);
  EXPECT_TRUE(doc["by_gpus"].is_array());
}

// estimate-check reads the profile database from the data folder (GEARBOX_DATA): a wrong type
// there escaped as a library exception (exit 1, no file named).
TEST(SchedCli, EstimateCheckBadProfileNamesFileAndField) {
  const testing::TempDir dir;
  std::filesystem::create_directories(dir / "crius" / "database");
  dir.write("crius/hardware_model_spec.json",
            R"({"models": {"supported_model_cfgs": {"bert": {"param_num": ["1.3B"],
                "batch_size": [256]}}}})");
  const auto opt = dir.write("crius/prof_database_optimal.json",
                             R"({"bert_1.3B_256": {"1_a100_1_n_4_d": [{"e2e_s": "fast"}]}})");
  dir.write("crius/database/dp_mem.json", R"([{}])");
  const CliRun r =
      gearbox_run({"sched", "estimate-check"}, {"GEARBOX_DATA=" + dir.path().string()});
  const std::string field = "bert_1.3B_256.1_a100_1_n_4_d[0].e2e_s";
  expect_one_line_error(r, {opt.string(), field});
  // Under --json the same error is also the one document on stdout.
  const CliRun j =
      gearbox_run({"sched", "estimate-check", "--json"}, {"GEARBOX_DATA=" + dir.path().string()});
  EXPECT_EQ(j.code, 2);
  const auto doc = one_document(j);
  EXPECT_EQ(doc["error"]["file"], opt.string());
  EXPECT_EQ(doc["error"]["field"], field);
}

}  // namespace
}  // namespace gearbox
