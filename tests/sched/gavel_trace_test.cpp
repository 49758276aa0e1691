// Gavel's .trace format as an input alternative: a small hand-made trace.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "gearbox/core/error.hpp"
#include "gearbox/sched/simulator.hpp"
#include "gearbox/sched/trace.hpp"
#include "gearbox/testing/temp_dir.hpp"
#include "test_support.hpp"

namespace gearbox::sched {
namespace {

// One Gavel line: job_type, command, working_directory, num_steps_arg, needs_data_dir,
// total_steps, scale_factor, priority_weight, SLO, arrival_time.
std::string line(const std::string& type, const std::string& steps, const std::string& gpus,
                 const std::string& arrival, const std::string& slo = "-1") {
  return type + "\tpython3 main.py --data_dir=%s/data\tbert/\t--num_steps\t1\t" + steps + "\t" +
         gpus + "\t1\t" + slo + "\t" + arrival + "\n";
}

std::string error_of(const std::string& text) {
  try {
    parse_gavel_trace(text, "g.trace", test::tiny_catalog());
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    return e.what();
  }
  ADD_FAILURE() << "no error for:\n" << text;
  return "";
}

TEST(GavelTrace, ParsesAHandMadeTrace) {
  const auto cat = test::tiny_catalog();
  const std::string text = line("bert-760M (batch size 128)", "3000", "1", "0") +
                           line("bert__1.3B (batch size 256)", "500", "4", "420.5", "1.2") + "\n" +
                           line("moe-690M (batch size 256)", "7", "2", "900");
  const Trace t = parse_gavel_trace(text, "g.trace", cat);
  ASSERT_EQ(t.jobs.size(), 3u);
  EXPECT_EQ(cat.display_name(t.jobs[0].model), "bert-760M");
  EXPECT_EQ(t.jobs[0].batch, 128);
  EXPECT_EQ(t.jobs[0].iterations, 3000);  // total_steps as is (no artifact // 5)
  EXPECT_EQ(t.jobs[0].req_gpus, 1);
  EXPECT_EQ(t.jobs[0].req_type, "v100");
  EXPECT_EQ(cat.display_name(t.jobs[1].model), "bert-1.3B");
  EXPECT_EQ(t.jobs[1].batch, 256);
  EXPECT_EQ(t.jobs[1].req_gpus, 4);
  EXPECT_DOUBLE_EQ(t.jobs[1].submit, 420.5);
  EXPECT_DOUBLE_EQ(t.jobs[1].deadline, 420.5 + kNoDeadline);
  EXPECT_EQ(t.jobs[2].iterations, 7);
  // Rounds as for the artifact's traces: t0 = 0; 420.5 is in (300, 600]; 900 in (600, 900].
  EXPECT_EQ(t.jobs[1].round, 1);
  EXPECT_EQ(t.jobs[2].round, 2);
  GavelTraceOptions opt;
  opt.gpu_type = "a40";
  EXPECT_EQ(parse_gavel_trace(text, "g.trace", cat, opt).jobs[0].req_type, "a40");
}

TEST(GavelTrace, BadLinesNameFileLineAndColumn) {
  const std::string ok = line("bert-760M (batch size 128)", "10", "1", "0");
  std::string e = error_of(ok + "bert-760M (batch size 128)\tcmd\n");
  EXPECT_NE(e.find("g.trace:2"), std::string::npos) << e;
  EXPECT_NE(e.find("10"), std::string::npos) << e;
  e = error_of(ok + line("ResNet-50 (batch size 64)", "10", "1", "5"));
  EXPECT_NE(e.find("job_type"), std::string::npos) << e;
  EXPECT_NE(e.find("bert__760M"), std::string::npos) << e;  // lists the known models
  e = error_of(line("bert-760M", "10", "1", "0"));
  EXPECT_NE(e.find("batch size"), std::string::npos) << e;
  e = error_of(line("bert-760M (batch size x)", "10", "1", "0"));
  EXPECT_NE(e.find("job_type"), std::string::npos) << e;
  e = error_of(ok + line("bert-760M (batch size 128)", "10", "3", "0"));
  EXPECT_NE(e.find("scale_factor"), std::string::npos) << e;
  e = error_of(ok + line("bert-760M (batch size 128)", "-5", "1", "0"));
  EXPECT_NE(e.find("total_steps"), std::string::npos) << e;
  e = error_of(ok + line("bert-760M (batch size 128)", "10", "1", "nan"));
  EXPECT_NE(e.find("arrival_time"), std::string::npos) << e;
  e = error_of(ok + line("bert-760M (batch size 128)", "10", "1", "0", "soon"));
  EXPECT_NE(e.find("SLO"), std::string::npos) << e;
  e = error_of("\n\n");
  EXPECT_NE(e.find("without jobs"), std::string::npos) << e;
}

TEST(GavelTrace, SimulatesFromAPathEndingInTrace) {
  const auto cat = test::tiny_catalog();
  const gearbox::testing::TempDir dir;
  const auto path = dir.write("gearbox_sched_gavel_test.trace",
                              line("bert-760M (batch size 128)", "600", "1", "0") +
                                  line("bert-760M (batch size 128)", "300", "1", "10"));
  const Trace t = trace_from_spec(path.string(), cat);
  EXPECT_EQ(t.name, "gearbox_sched_gavel_test");
  ASSERT_EQ(t.jobs.size(), 2u);
  Cluster c;
  c.add_pool("v100", 1, 1);  // one GPU: the second job waits for the first
  test::FakeEstimator est([](const JobShape&, const std::string&, int) { return 1.0; });
  auto fcfs = make_policy("fcfs");
  const auto r = simulate(t, c, est, *fcfs);
  ASSERT_EQ(r.finished, 2);
  EXPECT_DOUBLE_EQ(r.jcts[0], 150 + 600);
  EXPECT_DOUBLE_EQ(r.jcts[1], 150 + 600 + 150 + 300 - 10);  // starts when the first departs
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace gearbox::sched
