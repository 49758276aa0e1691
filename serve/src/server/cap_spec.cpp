#include "gearbox/serve/server/model_runner.hpp"

namespace gearbox::serve::server {

std::string CapSpec::to_string() const {
  std::string out = policy;
  // The knobs belong to the spelling's last term; when that term already carries knobs
  // (`streaming:sink=4`) they join its list with ',' rather than opening a second ':'.
  const std::size_t last_term = out.rfind('+');
  bool has_knobs =
      out.find(':', last_term == std::string::npos ? 0 : last_term + 1) != std::string::npos;
  for (const auto& [name, value] : knobs) {
    out += has_knobs ? ',' : ':';
    has_knobs = true;
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

}  // namespace gearbox::serve::server
