// Runs the gearbox binary (GEARBOX_BINARY, set by the test's CMake target) with `args` and
// returns its exit code, stdout and stderr: the serve CLI tests' one way to call the CLI.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace gearbox::test {

struct CliRun {
  int code;
  std::string out;
  std::string err;
};

inline CliRun run_gearbox(const std::string& args) {
  const auto err_path = std::filesystem::temp_directory_path() /
                        ("gearbox_cli_test_" + std::to_string(::getpid()) + ".err");
  const std::string cmd = std::string(GEARBOX_BINARY) + " " + args + " 2>" + err_path.string();
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int status = pclose(p);
  std::stringstream err;
  err << std::ifstream(err_path).rdbuf();
  std::filesystem::remove(err_path);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out, err.str()};
}

}  // namespace gearbox::test
