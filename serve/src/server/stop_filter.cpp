#include "gearbox/serve/server/stop_filter.hpp"

#include <algorithm>

#include "gearbox/serve/server/utf8.hpp"

namespace gearbox::serve::server {

std::string StopStringFilter::push(std::string_view bytes) {
  if (stopped_) return "";
  held_.append(bytes);
  // Held bytes never contain a whole stop string, so a match must end in the new bytes.
  std::size_t cut = std::string::npos;
  for (const auto& s : stops_) {
    if (!s.empty()) cut = std::min(cut, held_.find(s));
  }
  if (cut != std::string::npos) {
    std::string out = held_.substr(0, cut);
    held_.clear();
    stopped_ = true;
    return out;
  }
  // Hold back the longest tail that is a proper prefix of some stop string.
  std::size_t hold = 0;
  for (const auto& s : stops_) {
    if (s.empty()) continue;
    for (std::size_t n = std::min(s.size() - 1, held_.size()); n > hold; --n) {
      if (std::string_view(held_).substr(held_.size() - n) == std::string_view(s).substr(0, n)) {
        hold = n;
        break;
      }
    }
  }
  const std::size_t safe =
      utf8_complete_prefix(std::string_view(held_).substr(0, held_.size() - hold));
  std::string out = held_.substr(0, safe);
  held_.erase(0, safe);
  return out;
}

std::string StopStringFilter::flush() {
  std::string out;
  out.swap(held_);
  return out;
}

}  // namespace gearbox::serve::server
