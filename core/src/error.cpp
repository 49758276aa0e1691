#include "gearbox/core/error.hpp"

namespace gearbox {

Error::Error(ErrorKind kind, std::string message) : kind_(kind), message_(std::move(message)) {
  reformat();
}

Error& Error::at(std::string file, std::optional<std::uint64_t> line) {
  file_ = std::move(file);
  line_ = line;
  reformat();
  return *this;
}

Error& Error::at_offset(std::string file, std::uint64_t byte_offset) {
  file_ = std::move(file);
  offset_ = byte_offset;
  reformat();
  return *this;
}

Error& Error::field(std::string name) {
  field_ = std::move(name);
  reformat();
  return *this;
}

Error& Error::expected(std::string what) {
  expected_ = std::move(what);
  reformat();
  return *this;
}

Error& Error::found(std::string what) {
  found_ = std::move(what);
  reformat();
  return *this;
}

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  unsigned min = 0;
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2, min = 0x80;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3, min = 0x800;
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  unsigned cp = b & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

}  // namespace

std::string printable(std::string_view text, std::size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    if (out.size() >= max_bytes) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
      ++i;
    } else if (c == '\n') {
      out += "\\n", ++i;
    } else if (c == '\t') {
      out += "\\t", ++i;
    } else if (c == '\r') {
      out += "\\r", ++i;
    } else if (const std::size_t n = c >= 0x80 ? utf8_length(text, i) : 0; n > 0) {
      out.append(text.substr(i, n));
      i += n;
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      ++i;
    }
  }
  return out;
}

void Error::reformat() {
  std::string out;
  if (!file_.empty()) {
    out += printable(file_);
    if (line_) out += ":" + std::to_string(*line_);
    if (offset_) out += " at byte offset " + std::to_string(*offset_);
    out += ": ";
  }
  if (!field_.empty()) out += "field '" + printable(field_) + "': ";
  out += printable(message_, 1000);
  if (!expected_.empty() || !found_.empty()) {
    out += " (";
    if (!expected_.empty()) out += "expected " + printable(expected_);
    if (!expected_.empty() && !found_.empty()) out += ", ";
    if (!found_.empty()) out += "found " + printable(found_);
    out += ")";
  }
  formatted_ = std::move(out);
}

}  // namespace gearbox
