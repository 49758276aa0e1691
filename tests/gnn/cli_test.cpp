// The gnn commands as a user runs them: the gearbox binary started with an argument vector.
// Contract: --json prints exactly one JSON document on stdout; a bad flag exits 2 with one line
// naming it; a bad input file exits 2 naming the file and the field; sizes declared by input are
// refused before allocating; the PyG baseline starts without a shell.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "gearbox/testing/run_cli.hpp"
#include "gearbox/testing/temp_dir.hpp"

namespace {

using gearbox::testing::CliRun;
using gearbox::testing::run_argv;
using gearbox::testing::TempDir;
namespace fs = std::filesystem;

// A small planted-community graph: labels included, generated in milliseconds.
const char* kSbm = "sbm:n=400,block=40,din=8,dout=1,seed=3";

class GnnCli : public ::testing::Test {
 protected:
  // Runs `gearbox args...` with its cache in this test's folder.
  CliRun gearbox(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), GEARBOX_BINARY);
    env.insert(env.begin(), "GEARBOX_CACHE=" + (tmp_ / "cache").string());
    env.push_back("OMP_WAIT_POLICY=passive");
    return run_argv(args, env);
  }
  // The one JSON document stdout must hold (parse fails on anything before or after it).
  static nlohmann::json one_document(const CliRun& r) {
    nlohmann::json j;
    EXPECT_NO_THROW(j = nlohmann::json::parse(r.out)) << "stdout is not one JSON document:\n"
                                                      << r.out;
    return j;
  }
  // Under --json a failure still prints one document: the error (docs/errors.md).
  static void expect_json_error(const CliRun& r) {
    const auto j = one_document(r);
    EXPECT_EQ(j["error"]["exit_code"], 2) << r.out;
    EXPECT_EQ(j["error"]["kind"], "input") << r.out;
  }
  // Exit 2 with one line naming `what`; stdout empty, or under --json (`json`) one error
  // document.
  static void expect_one_line_naming(const CliRun& r, const std::string& what, bool json = false) {
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line:\n" << r.err;
    if (json)
      EXPECT_EQ(one_document(r)["error"]["exit_code"], 2) << r.out;
    else
      EXPECT_TRUE(r.out.empty()) << r.out;
  }
  // A mtx adjacency whose line 4 has a row index beyond the declared 3 rows.
  fs::path bad_mtx() {
    return tmp_.write("bad.adj.mtx",
                      "%%MatrixMarket matrix coordinate pattern general\n3 3 2\n1 2\n7 1\n");
  }
  // Runs under an address-space limit of `bytes` (prlimit, as `ulimit -v` would).
  CliRun gearbox_limited(std::uint64_t bytes, std::vector<std::string> args) {
    args.insert(args.begin(),
                {"/usr/bin/prlimit", "--as=" + std::to_string(bytes), GEARBOX_BINARY});
    return run_argv(args,
                    {"GEARBOX_CACHE=" + (tmp_ / "cache").string(), "OMP_WAIT_POLICY=passive"});
  }
  TempDir tmp_;
};

constexpr std::uint64_t kThreeGiB = std::uint64_t{3} << 30;

TEST_F(GnnCli, PlanJsonIsOneDocument) {
  const CliRun r =
      gearbox({"gnn", "plan", "--graph", kSbm, "--dim", "8", "--threads", "1", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = one_document(r);
  EXPECT_EQ(j["nodes"], 400);
  EXPECT_EQ(j["dim"], 8);
}

TEST_F(GnnCli, PlanBadFlagAndBadFile) {
  expect_one_line_naming(gearbox({"gnn", "plan", "--graph", kSbm, "--frobnicate"}), "--frobnicate");
  expect_one_line_naming(gearbox({"gnn", "plan", "--graph", kSbm, "--dim", "0"}), "--dim");
  const fs::path bad = bad_mtx();
  const CliRun r = gearbox({"gnn", "plan", "--graph", bad.string(), "--dim", "8", "--json"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find(bad.string() + ":4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("field 'row'"), std::string::npos) << r.err;
  expect_json_error(r);
}

TEST_F(GnnCli, PlanPrintsTheBlockDensityTableWithRows) {
  const CliRun r = gearbox({"gnn", "plan", "--graph", kSbm, "--dim", "8", "--threads", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  // "decomposition: N diagonal blocks ...", then the table: one row per bucket holding blocks,
  // their counts summing to N.
  const auto dec = r.out.find("decomposition: ");
  ASSERT_NE(dec, std::string::npos) << r.out;
  const long blocks = std::stol(r.out.substr(dec + 15));
  ASSERT_GT(blocks, 0) << r.out;
  const auto at = r.out.find("block density");
  ASSERT_NE(at, std::string::npos) << r.out;
  std::istringstream rest(r.out.substr(at));
  std::string line;
  std::getline(rest, line);  // header
  std::getline(rest, line);  // rule
  long rows = 0, sum = 0;
  while (std::getline(rest, line) && !line.empty()) {
    std::istringstream cells(line);
    std::string bucket;
    long n = 0;
    cells >> bucket >> n;
    EXPECT_GT(n, 0) << "a row for an empty bucket: " << line;
    sum += n;
    ++rows;
  }
  EXPECT_GE(rows, 1) << r.out;
  EXPECT_EQ(sum, blocks) << r.out;
}

TEST_F(GnnCli, TrainJsonIsOneDocument) {
  const CliRun r =
      gearbox({"gnn", "train", "--graph", kSbm, "--epochs", "2", "--threads", "1", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = one_document(r);
  EXPECT_EQ(j["nodes"], 400);
  ASSERT_EQ(j["epochs"].size(), 2u);
  EXPECT_TRUE(j["epochs"][1]["loss"].is_number()) << j["epochs"].dump();
}

TEST_F(GnnCli, TrainRefusesNonFiniteAndMeaninglessHyperparameters) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"--lr", "nan"},       {"--lr", "inf"},           {"--lr", "-0.01"},
      {"--lr", "0"},         {"--dropout", "nan"},      {"--dropout", "1"},
      {"--dropout", "-0.1"}, {"--weight-decay", "nan"}, {"--weight-decay", "-1"},
      {"--epochs", "0"},     {"--hidden", "0"}};
  for (const auto& [flag, value] : bad) {
    SCOPED_TRACE(flag + " " + value);
    expect_one_line_naming(
        gearbox({"gnn", "train", "--graph", kSbm, "--epochs", "2", flag, value, "--json"}), flag,
        true);
  }
}

TEST_F(GnnCli, TrainRefusesTf32OnTheCpu) {
  // TF32 products are a GPU mode: on the CPU the flag is refused, naming it, not ignored.
  expect_one_line_naming(
      gearbox({"gnn", "train", "--graph", kSbm, "--epochs", "2", "--tf32", "--json"}), "--tf32",
      true);
}

TEST_F(GnnCli, TrainBadLabelFileNamesFileLineAndField) {
  tmp_.write("g.adj.mtx", "%%MatrixMarket matrix coordinate pattern general\n3 3 2\n1 2\n2 3\n");
  const fs::path labels = tmp_.write("g.labels.txt", "0\n999999\n1\n");
  const CliRun r =
      gearbox({"gnn", "train", "--graph", (tmp_ / "g.adj.mtx").string(), "--epochs", "1"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find(labels.string() + ":2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("field 'label'"), std::string::npos) << r.err;
}

TEST_F(GnnCli, BenchJsonIsOneDocumentAndBadInputIsRefused) {
  const CliRun r = gearbox({"gnn", "bench", "--graph", kSbm, "--dim", "8", "--threads", "1",
                            "--no-pyg", "--no-epoch", "--min-seconds", "0", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = one_document(r);
  EXPECT_EQ(j["nodes"], 400);
  EXPECT_TRUE(j["aggregation"]["adaptive_ms"].is_number());
  EXPECT_EQ(j["buffers"]["kind"], "vector");
  // X and Y on huge pages: the same bench, its buffers reported as such.
  const CliRun h =
      gearbox({"gnn", "bench", "--graph", kSbm, "--dim", "8", "--threads", "1", "--no-pyg",
               "--no-epoch", "--min-seconds", "0", "--huge-pages", "--json"});
  ASSERT_EQ(h.code, 0) << h.err;
  const auto hj = one_document(h);
  EXPECT_EQ(hj["buffers"]["kind"], "huge_pages");
  EXPECT_TRUE(hj["aggregation"]["adaptive_ms"].is_number());
  expect_one_line_naming(gearbox({"gnn", "bench", "--graph", kSbm, "--min-seconds", "nan"}),
                         "--min-seconds");
  expect_one_line_naming(gearbox({"gnn", "bench", "--graph", kSbm, "--bogus"}), "--bogus");
  const fs::path bad = bad_mtx();
  const CliRun b = gearbox({"gnn", "bench", "--graph", bad.string(), "--no-pyg", "--json"});
  EXPECT_EQ(b.code, 2) << b.err;
  EXPECT_NE(b.err.find(bad.string() + ":4"), std::string::npos) << b.err;
  expect_json_error(b);
}

// The PyG baseline with a TMPDIR whose name is shell syntax: nothing in it may run, and the
// script gets its arguments intact (a fake interpreter records them and prints a result).
TEST_F(GnnCli, BenchStartsPygWithoutAShell) {
  const fs::path tmpdir = tmp_ / "x'$(cd $HOME;touch INJECTED)'";
  fs::create_directories(tmpdir);
  const fs::path record = tmp_ / "argv.txt";
  const fs::path fake = tmp_.write(
      "fake-python", "#!/bin/sh\nprintf '%s\\n' \"$@\" > '" + record.string() +
                         "'\n[ -s \"$3\" ] && echo edges-present >> '" + record.string() +
                         "'\necho '{\"aggregation_ms\": 1.5, \"epoch_ms\": 2.5}'\n");
  fs::permissions(fake, fs::perms::owner_all);
  const CliRun r = gearbox({"gnn", "bench", "--graph", kSbm, "--dim", "8", "--threads", "1",
                            "--no-epoch", "--min-seconds", "0", "--json"},
                           {"TMPDIR=" + tmpdir.string(), "HOME=" + tmp_.path().string(),
                            "GEARBOX_PYG_PYTHON=" + fake.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(tmp_ / "INJECTED")) << "the TMPDIR name ran as a shell command";
  const auto j = one_document(r);
  EXPECT_EQ(j["aggregation"]["pyg_ms"], 1.5) << j["pyg"].dump();
  std::ifstream in(record);
  std::vector<std::string> argv;
  for (std::string line; std::getline(in, line);) argv.push_back(line);
  ASSERT_GE(argv.size(), 10u);
  EXPECT_EQ(argv[1], "--edges");
  // The edge file sat in a private directory inside TMPDIR, the name passed through verbatim.
  EXPECT_EQ(fs::path(argv[2]).parent_path().parent_path(), tmpdir) << argv[2];
  EXPECT_EQ(argv.back(), "edges-present");
  EXPECT_TRUE(fs::is_empty(tmpdir)) << "the private directory is removed after the run";
}

// Sizes declared by input, under `ulimit -v` 3 GiB: refused with exit 2 naming file and field
// before anything is allocated for them (they used to end in "out of memory", exit 1).
TEST_F(GnnCli, DeclaredSizesBeyondMemoryAreRefusedNotAllocated) {
  const fs::path liar = tmp_.write(
      "liar.mtx",
      "%%MatrixMarket matrix coordinate pattern general\n50000000 50000000 2\n1 2\n2 1\n");
  const CliRun m = gearbox_limited(kThreeGiB, {"gnn", "plan", "--graph", liar.string(), "--dim",
                                               "16", "--threads", "1", "--json"});
  EXPECT_EQ(m.code, 2) << m.err;
  EXPECT_NE(m.err.find(liar.string()), std::string::npos) << m.err;
  EXPECT_NE(m.err.find("field 'rows'"), std::string::npos) << m.err;
  expect_json_error(m);
  for (const auto& [spec, field] : {std::pair{"sbm:n=100000000,din=0,dout=0", "sbm:n"},
                                    std::pair{"rmat:scale=26,ef=0", "rmat:scale"}}) {
    const CliRun g = gearbox_limited(
        kThreeGiB, {"gnn", "plan", "--graph", spec, "--dim", "16", "--threads", "1", "--json"});
    EXPECT_EQ(g.code, 2) << spec << ": " << g.err;
    EXPECT_NE(g.err.find(std::string("field '") + field + "'"), std::string::npos) << g.err;
    EXPECT_NE(g.err.find("--graph"), std::string::npos) << g.err;
  }
}

TEST_F(GnnCli, ThreadsBeyondTheCoresAreClampedWithOneLine) {
  const CliRun r =
      gearbox({"gnn", "plan", "--graph", kSbm, "--dim", "8", "--threads", "4096", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = one_document(r);
  EXPECT_LT(j["threads"].get<int>(), 4096);
  EXPECT_GE(j["threads"].get<int>(), 1);
  EXPECT_NE(r.err.find("--threads 4096"), std::string::npos) << r.err;
}

}  // namespace
