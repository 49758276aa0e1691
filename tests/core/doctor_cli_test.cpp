// `gearbox doctor` as a user runs it: one JSON document with --json, one-line usage errors,
// --threads clamped to the cores with a note, and no --seed (nothing in it is random).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "gearbox/testing/run_cli.hpp"
#include "gearbox/testing/temp_dir.hpp"

namespace {

using gearbox::testing::CliRun;

CliRun doctor(std::vector<std::string> args, const gearbox::testing::TempDir& cache) {
  args.insert(args.begin(), {GEARBOX_BINARY, "doctor"});
  return gearbox::testing::run_argv(args, {"GEARBOX_CACHE=" + cache.path().string()});
}

TEST(DoctorCli, JsonIsOneDocument) {
  gearbox::testing::TempDir cache;
  const CliRun r = doctor({"--json", "--no-probe"}, cache);
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(r.out)) << r.out;
  EXPECT_TRUE(j.contains("threads"));
}

TEST(DoctorCli, BadFlagIsOneLineExitTwo) {
  gearbox::testing::TempDir cache;
  const CliRun r = doctor({"--frobnicate"}, cache);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--frobnicate"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(DoctorCli, SeedIsNotAcceptedSinceNothingIsRandom) {
  gearbox::testing::TempDir cache;
  const CliRun r = doctor({"--no-probe", "--seed", "7"}, cache);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.err.find("--seed"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
}

TEST(DoctorCli, ThreadsBeyondTheCoresAreClampedWithANote) {
  gearbox::testing::TempDir cache;
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  const CliRun r = doctor({"--json", "--no-probe", "--threads", "64"}, cache);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["threads"].get<int>(), std::min(64, cores));
  if (cores < 64) {
    EXPECT_NE(r.err.find("--threads 64"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
  }
}

// OpenBLAS runs kernels for this CPU: a CPU with AVX2 + FMA never gets the generic Prescott
// (SSE3) kernels that Debian 12's OpenBLAS falls back to for CPUs newer than it (the binary
// re-executes itself with OPENBLAS_CORETYPE; core/include/gearbox/core/blas_kernels.hpp).
TEST(DoctorCli, BlasKernelsSuitTheCpu) {
  gearbox::testing::TempDir cache;
  const CliRun r = doctor({"--json", "--no-probe"}, cache);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const std::string core = j.at("blas_core").get<std::string>();
  EXPECT_FALSE(core.empty());
  if (j["cpu"]["avx2"].get<bool>() && j["cpu"]["fma"].get<bool>()) {
    EXPECT_NE(core, "Prescott") << j["blas"];
  }
}

// A user's own OPENBLAS_CORETYPE is left as it is.
TEST(DoctorCli, UsersBlasCoreTypeIsKept) {
  gearbox::testing::TempDir cache;
  const CliRun r = gearbox::testing::run_argv(
      {GEARBOX_BINARY, "doctor", "--json", "--no-probe"},
      {"GEARBOX_CACHE=" + cache.path().string(), "OPENBLAS_CORETYPE=PRESCOTT"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).at("blas_core").get<std::string>(), "Prescott");
}

}  // namespace
