#include "gearbox/sched/engine_info.hpp"

namespace gearbox::sched {
const char* engine_summary() {
  return "Crius scheduling of large-model training jobs on heterogeneous GPU clusters";
}
}  // namespace gearbox::sched
