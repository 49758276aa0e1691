// Reading whole text files, plain or gzip-compressed, with a size limit, and walking them line
// by line with the line number at hand (for errors that name file and line).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace gearbox::gnn {

// The bytes of `path`, decompressed when it ends in .gz. Throws Error::input when the file is
// missing, not a regular file (a device, FIFO or directory), a corrupt/truncated gzip stream,
// or larger than `max_bytes` (compressed or not).
std::string read_text_file(const std::filesystem::path& path,
                           std::uint64_t max_bytes = std::uint64_t{16} << 30);

// Bytes of memory this process may still allocate (gearbox::available_memory_bytes(): the
// least of MemAvailable and the rlimit and cgroup headroom). Parsers refuse declared sizes
// above it before allocating.
std::uint64_t memory_budget_bytes();

// Iterates over the lines of a text buffer, counting them from 1.
class LineReader {
 public:
  explicit LineReader(std::string_view text) : text_(text) {}
  // The next line without its terminator ("\n" or "\r\n"); false at the end.
  bool next(std::string_view& line);
  std::uint64_t line_number() const { return line_no_; }
  std::uint64_t remaining_bytes() const { return text_.size() - pos_; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  std::uint64_t line_no_ = 0;
};

// Splits `line` on spaces and tabs into at most `max_fields` fields; returns the count found
// (which may exceed max_fields: the extra ones are counted but not stored).
int split_fields(std::string_view line, std::string_view* fields, int max_fields);

// Parses a non-negative decimal integer field; nullopt-like false when not one.
bool parse_u64(std::string_view s, std::uint64_t& out);

// Parses a signed decimal integer field.
bool parse_i64(std::string_view s, std::int64_t& out);

// Parses a finite floating-point field.
bool parse_float(std::string_view s, float& out);

}  // namespace gearbox::gnn
