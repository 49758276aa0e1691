#include "gearbox/serve/engine_info.hpp"

namespace gearbox::serve {
const char* engine_summary() {
  return "LLM inference with per-request long-context (CAP) policies and an OpenAI-style server";
}
}  // namespace gearbox::serve
