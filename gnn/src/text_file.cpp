#include "gearbox/gnn/text_file.hpp"

#include <unistd.h>
#include <zlib.h>

#include <charconv>
#include <cmath>

#include "gearbox/core/error.hpp"
#include "gearbox/core/input_file.hpp"
#include "gearbox/core/memory_guard.hpp"

namespace gearbox::gnn {

namespace fs = std::filesystem;

std::uint64_t memory_budget_bytes() {
  return available_memory_bytes();
}

std::string read_text_file(const fs::path& path, std::uint64_t max_bytes) {
  // Regular files only (never /dev/zero or a FIFO), at most max_bytes, read as a stream.
  InputFile file(path, max_bytes);
  if (path.extension() != ".gz") return file.read_all();
  const int fd = ::dup(file.fd());
  gzFile f = fd >= 0 ? gzdopen(fd, "rb") : nullptr;
  if (!f) {
    if (fd >= 0) ::close(fd);
    throw Error::runtime("cannot open gzip file").at(path.string());
  }
  std::string out;
  gzbuffer(f, 1 << 17);
  char buf[1 << 16];
  for (;;) {
    const int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int errnum = 0;
      const std::string msg = gzerror(f, &errnum);
      gzclose(f);
      throw Error::input("corrupt gzip stream: " + msg).at_offset(path.string(), out.size());
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::uint64_t>(n) > max_bytes) {
      gzclose(f);
      throw Error::input("decompressed file too large")
          .at(path.string())
          .expected("<= " + std::to_string(max_bytes) + " bytes");
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  // gzread returns 0 both at a clean end and at a truncated stream: ask zlib which.
  int errnum = 0;
  const std::string msg = gzerror(f, &errnum);
  gzclose(f);
  if (errnum != Z_OK && errnum != Z_STREAM_END)
    throw Error::input("corrupt or truncated gzip stream: " + msg)
        .at_offset(path.string(), out.size());
  return out;
}

bool LineReader::next(std::string_view& line) {
  if (pos_ >= text_.size()) return false;
  std::size_t end = text_.find('\n', pos_);
  if (end == std::string_view::npos) end = text_.size();
  line = text_.substr(pos_, end - pos_);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  pos_ = end + 1;
  ++line_no_;
  return true;
}

int split_fields(std::string_view line, std::string_view* fields, int max_fields) {
  int n = 0;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    const std::size_t b = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (n < max_fields) fields[n] = line.substr(b, i - b);
    ++n;
  }
  return n;
}

bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s[0] == '-' || s[0] == '+') return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool parse_i64(std::string_view s, std::int64_t& out) {
  if (s.empty() || s[0] == '+') return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool parse_float(std::string_view s, float& out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(out);
}

}  // namespace gearbox::gnn
