#include "gearbox/serve/server/utf8.hpp"

namespace gearbox::serve::server {
namespace {

// Length of the sequence led by byte `b` (0 when `b` cannot lead one).
std::size_t sequence_length(unsigned char b) {
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF4) return 4;
  return 0;
}

// Valid range of the second byte after lead `b` (RFC 3629 table 3-7).
bool second_byte_ok(unsigned char lead, unsigned char c) {
  if (lead == 0xE0) return c >= 0xA0 && c <= 0xBF;
  if (lead == 0xED) return c >= 0x80 && c <= 0x9F;
  if (lead == 0xF0) return c >= 0x90 && c <= 0xBF;
  if (lead == 0xF4) return c >= 0x80 && c <= 0x8F;
  return c >= 0x80 && c <= 0xBF;
}

bool continuation(unsigned char c) {
  return c >= 0x80 && c <= 0xBF;
}

}  // namespace

std::optional<std::size_t> first_invalid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    const std::size_t n = sequence_length(lead);
    if (n == 0 || i + n > s.size()) return i;
    if (n >= 2 && !second_byte_ok(lead, static_cast<unsigned char>(s[i + 1]))) return i;
    for (std::size_t k = 2; k < n; ++k) {
      if (!continuation(static_cast<unsigned char>(s[i + k]))) return i;
    }
    i += n;
  }
  return std::nullopt;
}

std::size_t utf8_complete_prefix(std::string_view s) {
  // Only the last three bytes can belong to an unfinished character.
  const std::size_t from = s.size() > 3 ? s.size() - 3 : 0;
  for (std::size_t i = s.size(); i-- > from;) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (continuation(b)) continue;
    const std::size_t n = sequence_length(b);
    if (n <= 1) return s.size();  // ASCII or a stray byte: nothing to wait for
    if (i + n > s.size()) {
      // Unfinished: hold it back only if what arrived so far can still become valid.
      if (i + 1 < s.size() && !second_byte_ok(b, static_cast<unsigned char>(s[i + 1]))) {
        return s.size();
      }
      return i;
    }
    return s.size();
  }
  return s.size();
}

}  // namespace gearbox::serve::server
