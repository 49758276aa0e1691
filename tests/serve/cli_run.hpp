// Runs the gearbox binary (GEARBOX_BINARY, set by the test's CMake target) with `args` (words
// split as a shell would split plain and quoted words, no shell involved) and returns its exit
// code, stdout and stderr: the serve CLI tests' one way to call the CLI.
#pragma once

#include <string>
#include <vector>

#include "gearbox/testing/run_cli.hpp"

namespace gearbox::test {

using CliRun = gearbox::testing::CliRun;

inline CliRun run_gearbox(const std::string& args) {
  std::vector<std::string> argv{GEARBOX_BINARY};
  for (auto& w : gearbox::testing::split_words(args)) argv.push_back(std::move(w));
  return gearbox::testing::run_argv(argv);
}

}  // namespace gearbox::test
