// Command line of the gnn lever benchmarks (panel_levers, caller_order):
//   PROGRAM GRAPH [DIM] [THREADS] [MAX_BLOCK] [ROUNDS] [ONLY]
// ONLY: comma-separated parts of variant names; only the variants whose name contains one of
// them are run (the anchor always is; panel_levers only).
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

namespace gearbox::gnn::bench {

struct LeverArgs {
  std::string graph;
  int dim = 128;
  int threads = 2;
  int max_block = 1024;
  int rounds = 0;
  std::string only;  // empty: every variant

  // Whether the variant `name` is selected by `only`.
  bool selected(const std::string& name) const {
    if (only.empty()) return true;
    std::size_t at = 0;
    while (at <= only.size()) {
      const std::size_t end = std::min(only.find(',', at), only.size());
      const std::string part = only.substr(at, end - at);
      if (!part.empty() && name.find(part) != std::string::npos) return true;
      at = end + 1;
    }
    return false;
  }
};

// The arguments, or nullopt after printing the usage or the bad value to stderr. Each number
// must be a positive integer of at most 1,000,000.
inline std::optional<LeverArgs> parse_lever_args(int argc, char** argv, int default_rounds) {
  if (argc < 2 || argc > 7) {
    std::fprintf(stderr, "usage: %s GRAPH [DIM] [THREADS] [MAX_BLOCK] [ROUNDS] [ONLY]\n", argv[0]);
    return std::nullopt;
  }
  LeverArgs a;
  a.graph = argv[1];
  a.rounds = default_rounds;
  int* fields[] = {&a.dim, &a.threads, &a.max_block, &a.rounds};
  const char* names[] = {"DIM", "THREADS", "MAX_BLOCK", "ROUNDS"};
  if (argc == 7) a.only = argv[6];
  for (int i = 2; i < std::min(argc, 6); ++i) {
    char* end = nullptr;
    const long v = std::strtol(argv[i], &end, 10);
    if (end == argv[i] || *end != '\0' || v < 1 || v > 1000000) {
      std::fprintf(stderr, "%s: %s: expected a positive integer, found '%s'\n", argv[0],
                   names[i - 2], argv[i]);
      return std::nullopt;
    }
    *fields[i - 2] = static_cast<int>(v);
  }
  return a;
}

}  // namespace gearbox::gnn::bench
