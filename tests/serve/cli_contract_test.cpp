// The CLI contract of `gearbox serve generate|perplexity|cap-eval|bench|run`, run as a user
// would (the built binary, an argument vector, no shell): `--json` prints exactly one JSON
// document on stdout; a bad flag exits 2 with one line on stderr and nothing on stdout; a bad
// input file exits 2 with one line naming the file and the field; flags that were accepted
// and ignored now act (`serve run --seed`) or are gone (`serve perplexity --seed`); values
// the program cannot honour are refused up front. Servers started here run on a free
// loopback port and are stopped by pid (tests/serve/server_process.hpp).
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gearbox/testing/run_cli.hpp"
#include "gearbox/testing/temp_dir.hpp"
#include "server_process.hpp"

namespace {

using gearbox::testing::CliRun;
using gearbox::testing::run_argv;
using Json = nlohmann::json;

// A run of the binary, remembering whether it was asked for --json.
struct BinaryRun : CliRun {
  bool json = false;
};

BinaryRun gearbox_run(std::vector<std::string> args) {
  args.insert(args.begin(), GEARBOX_BINARY);
  BinaryRun r{run_argv(args), std::find(args.begin(), args.end(), "--json") != args.end()};
  return r;
}

// The whole of stdout is one JSON document (nlohmann refuses anything after it).
Json one_json_document(const CliRun& r) {
  Json j;
  EXPECT_NO_THROW(j = Json::parse(r.out)) << "stdout is not one JSON document:\n" << r.out;
  return j;
}

// Exit 2, exactly one line on stderr holding every `needle`, and stdout empty or, under
// --json, one JSON error document with the same exit code (docs/errors.md).
void expect_usage_error(const BinaryRun& r, const std::vector<std::string>& needles) {
  EXPECT_EQ(r.code, 2) << r.err;
  if (r.json)
    EXPECT_EQ(one_json_document(r)["error"]["exit_code"], 2) << r.out;
  else
    EXPECT_EQ(r.out, "");
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("gearbox: error: ", 0), 0u) << r.err;
  for (const auto& n : needles) EXPECT_NE(r.err.find(n), std::string::npos) << n << " in " << r.err;
}

std::string write_garbage_gguf(const gearbox::testing::TempDir& dir) {
  return dir.write("broken.gguf", std::string("GGUF\x03\x00\x00\x00garbage", 15)).string();
}

TEST(ServeCliContract, GenerateJsonBadFlagBadModelFile) {
  const CliRun ok = gearbox_run({"serve", "generate", "--model", "stories260K", "--prompt", "Tom",
                                 "-n", "4", "--temp", "0", "--json"});
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(one_json_document(ok)["tokens"].size(), 4u);
  expect_usage_error(gearbox_run({"serve", "generate", "--bogus"}), {"--bogus"});
  const gearbox::testing::TempDir dir;
  const std::string bad = write_garbage_gguf(dir);
  expect_usage_error(gearbox_run({"serve", "generate", "--model", bad, "-n", "1", "--json"}),
                     {bad});
}

// -n beyond the context is refused before anything is generated (it used to generate up to
// the context, then exit 2 and drop the text).
TEST(ServeCliContract, GenerateRefusesTokensBeyondTheContext) {
  const BinaryRun r = gearbox_run({"serve", "generate", "--model", "stories260K", "--prompt", "", "-n",
                                "1048576", "--temp", "0"});
  expect_usage_error(r, {"field 'n'", "1048576", "context holds"});
  // The largest -n that fits works: prompt (BOS) + n - 1 positions.
  const CliRun fits = gearbox_run({"serve", "generate", "--model", "stories260K", "--prompt", "",
                                   "-n", "8", "--ctx", "8", "--temp", "0", "--json"});
  ASSERT_EQ(fits.code, 0) << fits.err;
  EXPECT_EQ(one_json_document(fits)["tokens"].size(), 8u);
  expect_usage_error(gearbox_run({"serve", "generate", "--model", "stories260K", "--prompt", "",
                                  "-n", "9", "--ctx", "8", "--temp", "0"}),
                     {"field 'n'", "at most 8"});
}

TEST(ServeCliContract, PerplexityJsonBadFlagBadTextFile) {
  const gearbox::testing::TempDir dir;
  const std::string story =
      dir.write("story.txt", "Once upon a time, there was a little girl named Lily.").string();
  const CliRun ok = gearbox_run(
      {"serve", "perplexity", "--model", "stories260K", "--text-file", story, "--json"});
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_TRUE(one_json_document(ok)["ppl"].is_number());
  expect_usage_error(gearbox_run({"serve", "perplexity", "--text-file", story, "--bogus"}),
                     {"--bogus"});
  // Perplexity makes no random choice: --seed is not a flag of it.
  expect_usage_error(gearbox_run({"serve", "perplexity", "--text-file", story, "--seed", "3"}),
                     {"--seed"});
  // Not a regular file (it used to read /dev/zero until memory ran out).
  expect_usage_error(gearbox_run({"serve", "perplexity", "--text-file", "/dev/zero"}),
                     {"/dev/zero", "field 'text-file'", "not a regular file"});
  // Over the size limit (a sparse file: nothing is written).
  const auto big = dir / "big.txt";
  { std::ofstream(big).put('x'); }
  std::filesystem::resize_file(big, (64u << 20) + 1);
  expect_usage_error(gearbox_run({"serve", "perplexity", "--text-file", big.string()}),
                     {big.string(), "field 'text-file'", "at most 64 MiB"});
  expect_usage_error(
      gearbox_run({"serve", "perplexity", "--text-file", (dir / "absent.txt").string()}),
      {"absent.txt", "field 'text-file'"});
}

// --ctx 1 scores nothing (it exited 0 with "ppl": null) and --ctx beyond the trained context
// is refused (it was taken as is).
TEST(ServeCliContract, PerplexityCtxMustScoreAndFitTheTrainedContext) {
  const gearbox::testing::TempDir dir;
  const std::string story =
      dir.write("story.txt", "Once upon a time, there was a little girl named Lily.").string();
  expect_usage_error(gearbox_run({"serve", "perplexity", "--model", "stories260K", "--text-file",
                                  story, "--ctx", "1", "--json"}),
                     {"field 'ctx'"});
  expect_usage_error(gearbox_run({"serve", "perplexity", "--model", "stories260K", "--text-file",
                                  story, "--ctx", "100000", "--json"}),
                     {"field 'ctx'", "trained context", "100000"});
  const CliRun two = gearbox_run({"serve", "perplexity", "--model", "stories260K", "--text-file",
                                  story, "--ctx", "2", "--json"});
  ASSERT_EQ(two.code, 0) << two.err;
  EXPECT_TRUE(one_json_document(two)["ppl"].is_number());
}

TEST(ServeCliContract, CapEvalJsonBadFlagBadModelFile) {
  const CliRun ok = gearbox_run({"serve", "cap-eval", "--model", "stories260K", "--lengths", "64",
                                 "--policy", "full", "--passkey", "off", "--fidelity-tokens", "8",
                                 "--decode-tokens", "2", "--json"});
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_TRUE(one_json_document(ok).is_object());
  expect_usage_error(gearbox_run({"serve", "cap-eval", "--bogus"}), {"--bogus"});
  const gearbox::testing::TempDir dir;
  const std::string bad = write_garbage_gguf(dir);
  expect_usage_error(gearbox_run({"serve", "cap-eval", "--model", bad, "--lengths", "64",
                                  "--policy", "full", "--json"}),
                     {bad});
}

TEST(ServeCliContract, BenchJsonBadFlagBadValues) {
  gearbox::test::ServerProcess server(
      {GEARBOX_BINARY, "serve", "run", "--model", "stories260K", "--port", "0", "--parallel", "2"});
  ASSERT_GT(server.port(), 0) << server.err();
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
  const CliRun ok = gearbox_run({"serve", "bench", "--url", url, "--requests", "3", "--input-len",
                                 "4", "--output-len", "4", "--json"});
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(one_json_document(ok)["completed"], 3);
  expect_usage_error(gearbox_run({"serve", "bench", "--bogus"}), {"--bogus"});
  expect_usage_error(gearbox_run({"serve", "bench", "--url", "ftp://x", "--json"}),
                     {"field 'url'", "ftp://x"});
  expect_usage_error(gearbox_run({"serve", "bench", "--url", url, "--slo", "p50=3", "--json"}),
                     {"field 'slo'", "p50=3"});
  server.stop();
}

// The text a fresh `serve run --seed S` samples for one request without a seed of its own.
std::string sampled_text(const std::vector<std::string>& seed_flags) {
  std::vector<std::string> argv = {GEARBOX_BINARY, "serve", "run",        "--model", "stories260K",
                                   "--port",       "0",     "--parallel", "1"};
  argv.insert(argv.end(), seed_flags.begin(), seed_flags.end());
  gearbox::test::ServerProcess server(argv);
  if (server.port() <= 0) {
    ADD_FAILURE() << server.err();
    return "";
  }
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(60, 0);
  auto r = c.Post("/v1/completions", R"({"prompt":"Once","max_tokens":32,"temperature":1.5})",
                  "application/json");
  if (!r || r->status != 200) {
    ADD_FAILURE() << (r ? r->body : httplib::to_string(r.error()));
    return "";
  }
  return Json::parse(r->body)["choices"][0]["text"].get<std::string>();
}

// `serve run --seed S` seeds the per-request seeds (it was accepted and ignored): the same S
// samples the same text, another S another text.
TEST(ServeCliContract, RunSeedMakesSamplingRepeatable) {
  const std::string a = sampled_text({"--seed", "7"});
  const std::string b = sampled_text({"--seed", "7"});
  const std::string c = sampled_text({"--seed", "8"});
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

// --max-queue needs a thread per waiting request. Beyond the flag's range it is a usage
// error; within it, a system that refuses the threads (here an address-space limit through
// prlimit) gets a one-line error naming the flag and exit 2, not an abort (exit 134).
TEST(ServeCliContract, RunRefusesAQueueItCannotHonour) {
  expect_usage_error(gearbox_run({"serve", "run", "--max-queue", "1048576"}), {"--max-queue"});
  const std::filesystem::path prlimit = "/usr/bin/prlimit";
  if (!std::filesystem::exists(prlimit)) GTEST_SKIP() << "skipped: no /usr/bin/prlimit";
  // 3 GiB of address space: the binary, the model and its buffers fit; 5,000 threads of
  // 8 MiB stacks do not.
  gearbox::test::ServerProcess server({prlimit.string(), "--as=3221225472", GEARBOX_BINARY, "serve",
                                       "run", "--model", "stories260K", "--port", "0", "--threads",
                                       "1", "--max-queue", "5000"});
  EXPECT_LT(server.port(), 0) << "the server started";
  server.stop();
  EXPECT_EQ(server.code(), 2) << server.err();
  EXPECT_NE(server.err().find("field 'max-queue'"), std::string::npos) << server.err();
  EXPECT_EQ(std::count(server.err().begin(), server.err().end(), '\n'), 1) << server.err();
}

}  // namespace
