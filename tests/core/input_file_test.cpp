#include "gearbox/core/input_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "gearbox/core/error.hpp"
#include "gearbox/testing/temp_dir.hpp"

namespace gearbox {
namespace {

// The Error thrown by opening and reading `path` whole (fails the test when none is thrown).
Error refusal(const std::filesystem::path& path, std::uint64_t max_bytes = kDefaultInputLimit) {
  try {
    read_input_file(path, max_bytes);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error for " << path;
  return Error::runtime("none");
}

TEST(InputFile, ReadsARegularFileWhole) {
  testing::TempDir dir;
  std::string body(200000, 'x');
  body[123456] = '\n';
  const auto p = dir.write("a.txt", body);
  EXPECT_EQ(read_input_file(p), body);
  InputFile f(p);
  EXPECT_EQ(f.size(), body.size());
  std::string first;
  std::getline(f.stream(), first);
  EXPECT_EQ(first.size(), 123456u);
}

TEST(InputFile, RefusesDevZeroNamingIt) {
  const Error e = refusal("/dev/zero");
  EXPECT_EQ(e.exit_code(), 2);
  EXPECT_EQ(e.file(), "/dev/zero");
  EXPECT_NE(std::string(e.what()).find("character device"), std::string::npos) << e.what();
}

TEST(InputFile, RefusesADirectory) {
  testing::TempDir dir;
  const Error e = refusal(dir.path());
  EXPECT_EQ(e.exit_code(), 2);
  EXPECT_EQ(e.file(), dir.path().string());
  EXPECT_NE(std::string(e.what()).find("directory"), std::string::npos) << e.what();
}

TEST(InputFile, RefusesAFifoWithoutBlocking) {
  testing::TempDir dir;
  const auto fifo = dir / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const Error e = refusal(fifo);  // a blocking open would hang here: no writer exists
  EXPECT_EQ(e.exit_code(), 2);
  EXPECT_NE(std::string(e.what()).find("FIFO"), std::string::npos) << e.what();
}

TEST(InputFile, RefusesAMissingFile) {
  testing::TempDir dir;
  const Error e = refusal(dir / "absent.txt");
  EXPECT_EQ(e.exit_code(), 2);
  EXPECT_NE(std::string(e.what()).find("absent.txt"), std::string::npos) << e.what();
}

TEST(InputFile, RefusesAFileOverTheLimit) {
  testing::TempDir dir;
  const auto p = dir.write("big.txt", std::string(1001, 'y'));
  const Error e = refusal(p, 1000);
  EXPECT_EQ(e.exit_code(), 2);
  EXPECT_NE(std::string(e.what()).find("1001"), std::string::npos) << e.what();
  EXPECT_EQ(read_input_file(p, 1001).size(), 1001u);
}

}  // namespace
}  // namespace gearbox
