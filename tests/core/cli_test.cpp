#include "gearbox/core/cli.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <vector>

#include "gearbox/core/error.hpp"

namespace gearbox {

namespace {
struct CliRun {
  int code;
  std::string out, err;
};

// Runs a small app shaped like gearbox's: root -> "tool" subcommand with the common flags.
CliRun run(
    std::vector<const char*> args, CommonOptions& opts, bool& ran,
    std::function<void()> body = [] {}) {
  CLI::App app{"test", "gearbox"};
  app.require_subcommand(1);
  auto* sub = app.add_subcommand("tool", "a tool");
  add_common_flags(*sub, opts);
  sub->callback([&] {
    ran = true;
    body();
  });
  args.insert(args.begin(), "gearbox");
  std::ostringstream out, err;
  const int code = run_cli(app, static_cast<int>(args.size()), args.data(), out, err);
  return {code, out.str(), err.str()};
}
}  // namespace

TEST(Cli, ParsesCommonFlags) {
  CommonOptions o;
  bool ran = false;
  const CliRun r = run({"tool", "--json", "--threads", "3", "--seed", "42"}, o, ran);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(ran);
  EXPECT_TRUE(o.json);
  EXPECT_EQ(o.threads, 3);
  EXPECT_EQ(o.seed, 42u);
}

TEST(Cli, UnknownFlagIsOneLineUsageError) {
  CommonOptions o;
  bool ran = false;
  const CliRun r = run({"tool", "--frobnicate"}, o, ran);
  EXPECT_EQ(r.code, 2);
  EXPECT_FALSE(ran);
  EXPECT_NE(r.err.find("--frobnicate"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
}

TEST(Cli, BadValueNamesTheFlag) {
  CommonOptions o;
  bool ran = false;
  const CliRun r = run({"tool", "--threads", "many"}, o, ran);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--threads"), std::string::npos) << r.err;
  const CliRun neg = run({"tool", "--threads", "-2"}, o, ran);
  EXPECT_EQ(neg.code, 2);
}

TEST(Cli, MissingSubcommandIsUsageError) {
  CommonOptions o;
  bool ran = false;
  EXPECT_EQ(run({}, o, ran).code, 2);
}

TEST(Cli, HelpExitsZeroOnStdout) {
  CommonOptions o;
  bool ran = false;
  const CliRun r = run({"tool", "--help"}, o, ran);
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--threads"), std::string::npos);
  EXPECT_TRUE(r.err.empty());
}

TEST(Cli, ErrorsFromCommandsMapToExitCodes) {
  CommonOptions o;
  bool ran = false;
  const CliRun input = run({"tool"}, o, ran, [] { throw Error::input("bad row").at("t.csv", 4); });
  EXPECT_EQ(input.code, 2);
  EXPECT_EQ(input.err, "gearbox: error: t.csv:4: bad row\n");
  const CliRun rt = run({"tool"}, o, ran, [] { throw Error::runtime("disk gone"); });
  EXPECT_EQ(rt.code, 1);
  const CliRun other = run({"tool"}, o, ran, [] { throw std::runtime_error("boom"); });
  EXPECT_EQ(other.code, 1);
}

}  // namespace gearbox
