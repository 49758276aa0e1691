#include "gearbox/core/cli.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <vector>

#include "gearbox/core/error.hpp"
#include "gearbox/core/output.hpp"
#include "gearbox/core/threads.hpp"

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
  const CliRun r = run({"tool", "--json", "--threads", "1", "--seed", "42"}, o, ran);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(ran);
  EXPECT_TRUE(o.json);
  EXPECT_EQ(o.threads, 1);
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

TEST(Cli, ThreadsBeyondTheCoresAreClampedToThem) {
  CommonOptions o;
  bool ran = false;
  const std::string many = std::to_string(max_threads() + 62);
  const CliRun r = run({"tool", "--threads", many.c_str()}, o, ran);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(ran);
  EXPECT_EQ(o.threads, max_threads());
  EXPECT_EQ(run({"tool", "--threads", "0"}, o, ran).code, 0);
  EXPECT_EQ(o.threads, 0) << "0 (all cores) is kept";
}

TEST(Cli, ClampingThreadsSaysSoInOneLineNamingTheFlag) {
  std::ostringstream note;
  EXPECT_EQ(clamp_threads(max_threads() + 1, &note), max_threads());
  const std::string s = note.str();
  EXPECT_NE(s.find("--threads " + std::to_string(max_threads() + 1)), std::string::npos) << s;
  EXPECT_EQ(s.find('\n'), s.size() - 1) << "not one line: " << s;
  std::ostringstream quiet;
  EXPECT_EQ(clamp_threads(max_threads(), &quiet), max_threads());
  EXPECT_TRUE(quiet.str().empty());
}

TEST(Cli, SetThreadsNeverExceedsTheCores) {
  const int before = set_threads(1);
  EXPECT_EQ(set_threads(max_threads() + 63), max_threads());
  set_threads(before);
}

TEST(Cli, FiniteRangeRefusesNanInfAndOutOfRangeNamingTheFlag) {
  for (const char* bad : {"nan", "NaN", "inf", "-inf", "-0.5", "0", "11", "1e400", "x", ""}) {
    CLI::App app{"test", "gearbox"};
    double lr = 0.01;
    app.add_option("--lr", lr)->check(finite_range(0.0, 10.0, /*lo_open=*/true));
    const std::string flag = std::string("--lr=") + bad;
    const char* argv[] = {"gearbox", flag.c_str()};
    std::ostringstream out, err;
    EXPECT_EQ(run_cli(app, 2, argv, out, err), 2) << bad;
    EXPECT_NE(err.str().find("--lr"), std::string::npos) << err.str();
    EXPECT_EQ(err.str().find('\n'), err.str().size() - 1) << "not one line: " << err.str();
  }
  for (const char* good : {"1e-3", "10", "0.5"}) {
    CLI::App app{"test", "gearbox"};
    double lr = 0;
    app.add_option("--lr", lr)->check(finite_range(0.0, 10.0, true));
    const std::string flag = std::string("--lr=") + good;
    const char* argv[] = {"gearbox", flag.c_str()};
    std::ostringstream out, err;
    EXPECT_EQ(run_cli(app, 2, argv, out, err), 0) << good << ": " << err.str();
    EXPECT_EQ(lr, std::stod(good));
  }
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

TEST(Cli, JsonErrorIsOneDocumentOnStdout) {
  CommonOptions o;
  bool ran = false;
  const CliRun input = run({"tool", "--json"}, o, ran, [] {
    throw Error::input("bad row").at("t.csv", 4).field("gpus").expected("> 0").found("-1");
  });
  EXPECT_EQ(input.code, 2);
  const Json doc = Json::parse(input.out);  // throws (fails) on anything but one document
  EXPECT_EQ(doc["error"]["kind"], "input");
  EXPECT_EQ(doc["error"]["exit_code"], 2);
  EXPECT_EQ(doc["error"]["file"], "t.csv");
  EXPECT_EQ(doc["error"]["line"], 4);
  EXPECT_EQ(doc["error"]["field"], "gpus");
  EXPECT_NE(doc["error"]["message"].get<std::string>().find("found -1"), std::string::npos);
  EXPECT_EQ(input.err.find('\n'), input.err.size() - 1) << input.err;

  const CliRun usage = run({"tool", "--json", "--frobnicate"}, o, ran);
  EXPECT_EQ(usage.code, 2);
  EXPECT_EQ(Json::parse(usage.out)["error"]["kind"], "usage");

  const CliRun plain = run({"tool"}, o, ran, [] { throw Error::runtime("disk gone"); });
  EXPECT_TRUE(plain.out.empty()) << "without --json, stdout stays empty: " << plain.out;
}

TEST(Cli, BytesFromInputNeverSplitTheErrorLine) {
  CommonOptions o;
  bool ran = false;
  const std::string raw = std::string("a\nb\r\x01\xff") + "\xc3\xa9";  // newline, CR, ^A, bad byte, é
  const CliRun r = run({"tool", "--json"}, o, ran, [&] {
    throw Error::input("bad token").at("f\n.txt", 1).found(raw);
  });
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
  EXPECT_NE(r.err.find("a\\nb\\r\\x01\\xff\xc3\xa9"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("f\\n.txt:1"), std::string::npos) << r.err;
  EXPECT_NO_THROW(Json::parse(r.out)) << r.out;  // valid UTF-8, so a valid document
}

TEST(Cli, PrintableCutsLongText) {
  const std::string long_text(10000, 'x');
  const std::string p = printable(long_text, 100);
  EXPECT_EQ(p.size(), 103u);
  EXPECT_EQ(p.substr(100), "...");
  EXPECT_EQ(printable("plain ascii"), "plain ascii");
  EXPECT_EQ(printable("\xe2\x82"), "\\xe2\\x82");  // truncated UTF-8 sequence is escaped
}

}  // namespace gearbox
