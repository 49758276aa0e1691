// CLI plumbing shared by every command: the flags spelled the same everywhere (--json,
// --threads, --seed) and the one place where errors become messages and exit codes.
#pragma once

#include <cstdint>
#include <iosfwd>

#include <CLI/CLI.hpp>

namespace gearbox {

struct CommonOptions {
  bool json = false;       // stdout carries exactly one JSON document; progress on stderr
  int threads = 0;         // 0 = default_threads()
  std::uint64_t seed = 0;  // every random choice derives from it
};

// Adds --json (one JSON document on stdout) to `app`.
void add_json_flag(CLI::App& app, CommonOptions& opts);

// Adds --threads (0 = all cores; more than the cores is clamped to them with a one-line note on
// stderr, so OpenMP and OpenBLAS never start more threads than the machine has).
void add_threads_flag(CLI::App& app, CommonOptions& opts);

// Adds --seed. Only for commands in which something random depends on it.
void add_seed_flag(CLI::App& app, CommonOptions& opts);

// Adds --json, --threads and --seed to `app`, writing into `opts`.
void add_common_flags(CLI::App& app, CommonOptions& opts);

// Adds only --threads and --seed (for commands whose output is not a report).
void add_threads_seed_flags(CLI::App& app, CommonOptions& opts);

// A check for numeric options: a finite number in [lo, hi], or in (lo, hi] when `lo_open`.
// CLI::Range alone lets "nan" through (every comparison with NaN is false) and "inf" where hi
// is infinite.
CLI::Validator finite_range(double lo, double hi, bool lo_open = false);

// Parses argv and runs the chosen subcommand's callback. Help goes to `out` (exit 0); a parse
// error, gearbox::Error or other exception becomes one line "gearbox: error: ..." on `err`
// (bytes from files and flags escaped by printable()), under --json also one document
// {"error": {"message", "kind": usage|input|runtime, "exit_code", "file"?, "line"?,
// "byte_offset"?, "field"?}} on `out`, and the return value is the exit code (0 ok, 1 runtime
// failure, 2 usage or bad input).
int run_cli(CLI::App& app, int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace gearbox
