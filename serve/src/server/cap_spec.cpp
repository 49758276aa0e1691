#include "gearbox/serve/server/model_runner.hpp"

namespace gearbox::serve::server {

std::string CapSpec::to_string() const {
  std::string out = policy;
  for (std::size_t i = 0; i < knobs.size(); ++i) {
    out += i == 0 ? ':' : ',';
    out += knobs[i].first;
    out += '=';
    out += knobs[i].second;
  }
  return out;
}

}  // namespace gearbox::serve::server
