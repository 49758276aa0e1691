// Starting helper programs (baselines such as the PyG script) without a shell: an argument
// vector goes to posix_spawnp as it is, so no byte of a path or an environment variable is ever
// parsed as shell syntax. Their scratch files live in a private directory made by mkdtemp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace gearbox {

struct ProcessOutput {
  int exit_code = -1;      // the exit status; 128 + signal when killed by one
  std::string out;         // what it wrote on stdout (at most max_output_bytes)
  bool truncated = false;  // stdout was longer than max_output_bytes (the rest was discarded)
};

// Runs `argv` (argv[0] looked up in PATH when it has no '/') with stdin from /dev/null,
// stdout captured and stderr discarded (or inherited when `show_stderr`). Waits for it to end.
// Throws Error::runtime naming argv[0] when it cannot be started.
ProcessOutput run_process(const std::vector<std::string>& argv,
                          std::uint64_t max_output_bytes = std::uint64_t{1} << 20,
                          bool show_stderr = false);

// A private temporary directory: <temp_directory_path()>/<prefix>XXXXXX made by mkdtemp (mode
// 0700, a fresh name nobody else can have chosen), removed with its contents on destruction.
class PrivateTempDir {
 public:
  // Throws Error::runtime when the directory cannot be made.
  explicit PrivateTempDir(const std::string& prefix = "gearbox-");
  ~PrivateTempDir();
  PrivateTempDir(const PrivateTempDir&) = delete;
  PrivateTempDir& operator=(const PrivateTempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace gearbox
