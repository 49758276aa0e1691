#include "gearbox/core/process.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "gearbox/core/error.hpp"
#include "gearbox/testing/temp_dir.hpp"

namespace gearbox {
namespace {

TEST(Process, PassesArgumentsVerbatimWithoutAShell) {
  testing::TempDir dir;
  // Every shell metacharacter stays inside its argument: printf prints them back.
  const std::string nasty = "a'$(touch " + (dir / "INJECTED").string() + ")'; `id` | > x";
  const ProcessOutput r = run_process({"printf", "%s|%s", nasty, "two words"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, nasty + "|two words");
  EXPECT_FALSE(std::filesystem::exists(dir / "INJECTED"));
}

TEST(Process, ReportsExitCodeAndCapsOutput) {
  EXPECT_EQ(run_process({"false"}).exit_code, 1);
  const ProcessOutput r = run_process({"head", "-c", "100000", "/dev/zero"}, 1000);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.size(), 1000u);
  EXPECT_TRUE(r.truncated);
}

TEST(Process, MissingProgramIsAnErrorNamingIt) {
  try {
    run_process({"/nonexistent/gearbox-no-such-program"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gearbox-no-such-program"), std::string::npos);
  }
}

TEST(Process, PrivateTempDirIsFreshPrivateAndRemoved) {
  std::filesystem::path kept;
  {
    PrivateTempDir a("gearbox-test-"), b("gearbox-test-");
    EXPECT_NE(a.path(), b.path());
    struct stat st {};
    ASSERT_EQ(::stat(a.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    std::ofstream(a.path() / "f") << "x";
    kept = a.path();
  }
  EXPECT_FALSE(std::filesystem::exists(kept));
}

}  // namespace
}  // namespace gearbox
