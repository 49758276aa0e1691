// Internal to the trace parsers: splitting a row into cells and reading typed cells with
// errors that name the file, line and column.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "gearbox/core/error.hpp"
#include "gearbox/core/input_file.hpp"
#include "gearbox/sched/trace.hpp"

namespace gearbox::sched {

// The cells of a line separated by `sep` (no quoting: the trace formats have none).
inline std::vector<std::string_view> split_fields(std::string_view line, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= line.size(); ++i) {
    if (i == line.size() || line[i] == sep) {
      out.push_back(line.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

// `s` without surrounding blanks, tabs and a trailing carriage return.
inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

// Where a row comes from, for errors: file, line and the format's column names.
struct RowContext {
  const std::string& origin;
  std::uint64_t line;
  const char* const* columns;
};

// An input error for column `col` of the row: what was expected and (the start of) what was
// found.
inline Error bad(const RowContext& ctx, int col, std::string msg, std::string expected,
                 std::string_view found) {
  Error e = Error::input(std::move(msg));
  e.at(ctx.origin, ctx.line).field(ctx.columns[col]).expected(std::move(expected));
  e.found(found.empty() ? "an empty cell" : std::string(found.substr(0, 64)));
  return e;
}

// A finite number >= 0, else bad().
inline double parse_double(const RowContext& ctx, int col, std::string_view s) {
  double v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v) || v < 0) {
    throw bad(ctx, col, "not a number", "a finite number >= 0", s);
  }
  return v;
}

// An integer in [lo, hi], else bad().
inline std::int64_t parse_int(const RowContext& ctx, int col, std::string_view s, std::int64_t lo,
                              std::int64_t hi) {
  std::int64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) {
    throw bad(ctx, col, "not an integer in range",
              "an integer in " + std::to_string(lo) + ".." + std::to_string(hi), s);
  }
  return v;
}

// The whole trace file as text: a regular file of at most kMaxTraceBytes (never a device such
// as /dev/zero or a FIFO); Error::input naming the path otherwise.
inline std::string read_trace_file(const std::filesystem::path& path) {
  return read_input_file(path, kMaxTraceBytes);
}

}  // namespace gearbox::sched
