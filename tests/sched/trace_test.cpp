#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <vector>

#include "gearbox/core/error.hpp"
#include "gearbox/sched/trace.hpp"
#include "gearbox/testing/temp_dir.hpp"
#include "test_support.hpp"

namespace gearbox::sched {
namespace {

const char* kHeader =
    "job_id,submission_time,num_iteration,model_name,deadline,batch_size,num_gpu,gpu_type\n";

std::string error_of(const std::string& csv) {
  try {
    parse_trace_csv(csv, "t.csv", test::tiny_catalog());
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    return e.what();
  }
  ADD_FAILURE() << "no error for:\n" << csv;
  return "";
}

TEST(Trace, ParsesColumnsAndScalesIterations) {
  const auto cat = test::tiny_catalog();
  const Trace t = parse_trace_csv(std::string(kHeader) +
                                      "a,100,1003,bert__1.3B,900.5,256,4,a100\n"
                                      "b,250,10,moe__690M,1000,256,1,a10\r\n",
                                  "t.csv", cat);
  ASSERT_EQ(t.jobs.size(), 2u);
  EXPECT_EQ(t.jobs[0].id, "a");
  EXPECT_EQ(t.jobs[0].iterations, 200);  // 1003 // 5
  EXPECT_EQ(cat.display_name(t.jobs[0].model), "bert-1.3B");
  EXPECT_EQ(t.jobs[0].batch, 256);
  EXPECT_EQ(t.jobs[0].req_gpus, 4);
  EXPECT_EQ(t.jobs[0].req_type, "a100");
  EXPECT_DOUBLE_EQ(t.jobs[0].deadline, 900.5);
  EXPECT_EQ(t.jobs[1].iterations, 2);
  EXPECT_EQ(cat.family(t.jobs[1].model.family).name, "moe");
}

TEST(Trace, RoundsFollowTheArtifactsChunking) {
  const auto cat = test::tiny_catalog();
  std::string csv = kHeader;
  // t0 = 1000: round 0 holds [1000, 1300]; 1301 opens round 1; 1950 is round 3 (1900, 2200];
  // 1200 after it is out of order and joins the open round 3.
  for (int t : {1000, 1300, 1301, 1950, 1200, 2201})
    csv += "j" + std::to_string(t) + "," + std::to_string(t) + ",5,bert__760M,0,128,1,a10\n";
  const Trace tr = parse_trace_csv(csv, "t.csv", cat);
  std::vector<int> rounds;
  for (const auto& j : tr.jobs) rounds.push_back(j.round);
  EXPECT_EQ(rounds, (std::vector<int>{0, 0, 1, 3, 3, 4}));
  EXPECT_EQ(tr.num_rounds(), 5);
}

TEST(Trace, BadRowsNameFileRowAndColumn) {
  std::string e = error_of(std::string(kHeader) + "a,100,10,bert__760M,1,128,1,a10\n" +
                           "b,abc,10,bert__760M,1,128,1,a10\n");
  EXPECT_NE(e.find("t.csv:3"), std::string::npos) << e;
  EXPECT_NE(e.find("submission_time"), std::string::npos) << e;
  e = error_of(std::string(kHeader) + "a,100,-3,bert__760M,1,128,1,a10\n");
  EXPECT_NE(e.find("num_iteration"), std::string::npos) << e;
  e = error_of(std::string(kHeader) + "a,100,10,bert__760M,1,128,3,a10\n");
  EXPECT_NE(e.find("num_gpu"), std::string::npos) << e;
  e = error_of(std::string(kHeader) + "a,100,10,bert__760M,1,128,1,tpu\n");
  EXPECT_NE(e.find("gpu_type"), std::string::npos) << e;
  e = error_of(std::string(kHeader) + "a,100,10,bert__760M,1,128\n");
  EXPECT_NE(e.find("columns"), std::string::npos) << e;
  e = error_of("id,when\n");
  EXPECT_NE(e.find("header"), std::string::npos) << e;
  e = error_of(kHeader);
  EXPECT_NE(e.find("without jobs"), std::string::npos) << e;
  e = error_of(std::string(kHeader) + "a,1e999,10,bert__760M,1,128,1,a10\n");
  EXPECT_NE(e.find("submission_time"), std::string::npos) << e;
}

TEST(Trace, UnknownModelListsKnownOnes) {
  const std::string e = error_of(std::string(kHeader) + "a,100,10,gpt__7B,1,128,1,a10\n");
  EXPECT_NE(e.find("model_name"), std::string::npos) << e;
  EXPECT_NE(e.find("bert__760M"), std::string::npos) << e;
  EXPECT_NE(e.find("moe__690M"), std::string::npos) << e;
  EXPECT_NE(e.find("gpt__7B"), std::string::npos) << e;
}

TEST(Trace, SyntheticIsDeterministicForASeed) {
  const auto cat = test::tiny_catalog();
  const Trace a = synthetic_trace({300, 120, 7}, cat);
  const Trace b = synthetic_trace({300, 120, 7}, cat);
  const Trace c = synthetic_trace({300, 120, 8}, cat);
  ASSERT_EQ(a.jobs.size(), 300u);
  bool differs = false;
  for (std::size_t i = 0; i < a.jobs.size(); ++i) {
    EXPECT_EQ(a.jobs[i].submit, b.jobs[i].submit);
    EXPECT_EQ(a.jobs[i].iterations, b.jobs[i].iterations);
    EXPECT_EQ(a.jobs[i].req_type, b.jobs[i].req_type);
    differs = differs || a.jobs[i].submit != c.jobs[i].submit;
    if (i) {
      EXPECT_GE(a.jobs[i].submit, a.jobs[i - 1].submit);
    }
  }
  EXPECT_TRUE(differs);
  // 120 jobs/hour over 300 jobs spans about 2.5 hours.
  const double span = a.jobs.back().submit - a.jobs.front().submit;
  EXPECT_GT(span, 1.5 * 3600);
  EXPECT_LT(span, 3.5 * 3600);
}

TEST(Trace, ArtifactTracesHaveTheDocumentedSizes) {
  if (!test::have_data()) GTEST_SKIP() << "skipped: shared data not found";
  const auto& cat = ModelCatalog::shared();
  struct Want {
    const char* name;
    std::size_t jobs;
    int rounds;
  };
  for (const Want w :
       {Want{"philly", 1938, 5716}, Want{"venus", 438, 282}, Want{"pai", 125, 327}}) {
    const Trace t = trace_from_spec(w.name, cat);
    EXPECT_EQ(t.jobs.size(), w.jobs) << w.name;
    EXPECT_EQ(t.num_rounds(), w.rounds) << w.name;
  }
  const Trace philly = trace_from_spec("philly", cat);
  int within = 0;
  for (const auto& j : philly.jobs) within += j.round < 2000;
  EXPECT_EQ(within, 986);
}

// Fuzzer finding (2026-11-26): a submission time far after the first overflowed the round
// index (undefined behaviour) and would have made the simulator keep one value per round.
TEST(Trace, SubmissionsTooFarApartAreRejected) {
  std::string e = error_of(std::string(kHeader) + "a,0,10,bert__760M,1,128,1,a10\n" +
                           "b,1e20,10,bert__760M,1,128,1,a10\n");
  EXPECT_NE(e.find("too many scheduling rounds"), std::string::npos) << e;
  EXPECT_NE(e.find("job b"), std::string::npos) << e;
  // Just inside the bound is fine.
  const double last_ok = 300.0 * kMaxTraceRounds;
  const Trace t = parse_trace_csv(std::string(kHeader) + "a,0,10,bert__760M,1,128,1,a10\n" + "b," +
                                      std::to_string(last_ok) + ",10,bert__760M,1,128,1,a10\n",
                                  "t.csv", test::tiny_catalog());
  EXPECT_EQ(t.jobs[1].round, kMaxTraceRounds - 1);
  // The same guard covers Gavel traces and synthetic ones with a tiny arrival rate.
  EXPECT_THROW(parse_gavel_trace("bert-760M (batch size 128)\tc\td\ta\t0\t5\t1\t1\t-1\t0\n"
                                 "bert-760M (batch size 128)\tc\td\ta\t0\t5\t1\t1\t-1\t1e300\n",
                                 "g.trace", test::tiny_catalog()),
               Error);
  EXPECT_THROW(trace_from_spec("synthetic:jobs=3,rate=0.000001,seed=1", test::tiny_catalog()),
               Error);
}

// Synthetic trace parameters are checked like a file's fields: "jobs=0.5" ran an empty
// simulation (exit 0) where an empty CSV is an input error.
TEST(Trace, SyntheticParametersAreValidated) {
  const auto cat = test::tiny_catalog();
  struct Case {
    const char* spec;
    const char* field;
  };
  for (const Case& c :
       {Case{"synthetic:jobs=0.5", "synthetic:jobs"}, Case{"synthetic:jobs=0", "synthetic:jobs"},
        Case{"synthetic:jobs=-3", "synthetic:jobs"}, Case{"synthetic:jobs=1e3", "synthetic:jobs"},
        Case{"synthetic:jobs=20000000", "synthetic:jobs"},
        Case{"synthetic:jobs=", "synthetic:jobs"}, Case{"synthetic:rate=0", "synthetic:rate"},
        Case{"synthetic:rate=abc", "synthetic:rate"}, Case{"synthetic:rate=inf", "synthetic:rate"},
        Case{"synthetic:seed=1.5", "synthetic:seed"}, Case{"synthetic:seed=-1", "synthetic:seed"},
        Case{"synthetic:jobs=3,jobs=4", "synthetic:jobs"},
        Case{"synthetic:speed=3", "synthetic:speed"}}) {
    try {
      trace_from_spec(c.spec, cat);
      ADD_FAILURE() << "accepted " << c.spec;
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), 2) << c.spec;
      EXPECT_EQ(e.field_name(), c.field) << c.spec << ": " << e.what();
    }
  }
  // Accepted: integers where integers, any subset, seed 0 included.
  const SyntheticSpec s = parse_synthetic_spec("seed=0,rate=2.5,jobs=7");
  EXPECT_EQ(s.jobs, 7);
  EXPECT_DOUBLE_EQ(s.rate_per_hour, 2.5);
  EXPECT_EQ(s.seed, 0u);
  EXPECT_TRUE(s.seed_given);
  EXPECT_EQ(trace_from_spec("synthetic:jobs=7", cat).jobs.size(), 7u);
  EXPECT_EQ(trace_from_spec("synthetic", cat).jobs.size(), 1000u);
}

// --seed (TraceOptions::synthetic_seed) seeds a synthetic trace whose spec has no seed=: the
// same seed gives the same trace as seed= in the spec, another seed another trace, and a spec
// seed that disagrees is refused.
TEST(Trace, SyntheticSeedOption) {
  const auto cat = test::tiny_catalog();
  auto submits = [](const Trace& t) {
    std::vector<double> v;
    for (const auto& j : t.jobs) v.push_back(j.submit);
    return v;
  };
  TraceOptions five;
  five.synthetic_seed = 5;
  TraceOptions six;
  six.synthetic_seed = 6;
  const Trace a = trace_from_spec("synthetic:jobs=40", cat, five);
  const Trace b = trace_from_spec("synthetic:jobs=40,seed=5", cat);
  const Trace c = trace_from_spec("synthetic:jobs=40", cat, six);
  const Trace d = trace_from_spec("synthetic:jobs=40", cat);  // default seed 1
  EXPECT_EQ(submits(a), submits(b));
  EXPECT_NE(submits(a), submits(c));
  EXPECT_EQ(submits(d), submits(trace_from_spec("synthetic:jobs=40,seed=1", cat)));
  EXPECT_EQ(submits(trace_from_spec("synthetic:jobs=40,seed=5", cat, five)), submits(a));
  try {
    trace_from_spec("synthetic:jobs=40,seed=5", cat, six);
    ADD_FAILURE() << "two different seeds accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.field_name(), "--seed");
  }
}

// Trace files are regular files no larger than kMaxTraceBytes: /dev/zero was read until 4.4 GB,
// a FIFO blocks; an oversized file is refused from its size, before reading.
TEST(Trace, OnlyRegularFilesWithinTheSizeLimit) {
  const auto cat = test::tiny_catalog();
  const gearbox::testing::TempDir dir;
  const auto fifo = dir / "fifo.csv";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto big = dir.write("big.csv", kHeader);
  std::filesystem::resize_file(big, kMaxTraceBytes + 1);  // sparse: no disk used
  const auto big_gavel = dir.write("big.trace", "");
  std::filesystem::resize_file(big_gavel, kMaxTraceBytes + 1);
  struct Case {
    std::string spec, file, what;
  };
  for (const Case& c : {Case{"/dev/zero", "/dev/zero", "not a regular file"},
                        Case{"gavel:/dev/zero", "/dev/zero", "not a regular file"},
                        Case{fifo.string(), fifo.string(), "not a regular file"},
                        Case{dir.path().string(), dir.path().string(), "not a regular file"},
                        Case{big.string(), big.string(), "too large"},
                        Case{big_gavel.string(), big_gavel.string(), "too large"}}) {
    try {
      trace_from_spec(c.spec, cat);
      ADD_FAILURE() << "accepted " << c.spec;
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), 2) << c.spec;
      EXPECT_EQ(e.file(), c.file) << e.what();
      EXPECT_NE(std::string(e.what()).find(c.what), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace gearbox::sched
