// Internal to the sched engine: text from input files or flags made safe to echo in a one-line
// error message.
#pragma once

#include <string>
#include <string_view>

namespace gearbox::sched {

// `text` with bytes outside printable ASCII as '?' (a newline cannot split the message), cut
// at 64 characters ("..." after).
inline std::string printable(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 64)) out += c >= 0x20 && c < 0x7f ? c : '?';
  return text.size() > 64 ? out + "..." : out;
}

}  // namespace gearbox::sched
