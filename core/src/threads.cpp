#include "gearbox/core/threads.hpp"

#include <algorithm>
#include <cstdlib>
#include <ostream>
#include <thread>

#include <omp.h>

extern "C" void openblas_set_num_threads(int num_threads);

namespace gearbox {

int max_threads() {
  // Read once: glibc answers hardware_concurrency() by reading /sys/devices/system/cpu/online,
  // two file reads per ThreadScope, which cost ~30 us per gearbox_gnn.spmm call.
  static const int hw = [] {
    const int n = static_cast<int>(std::thread::hardware_concurrency());
    return n > 0 ? n : 1;
  }();
  return hw;
}

int default_threads() {
  for (const char* var : {"GEARBOX_THREADS", "OMP_NUM_THREADS"}) {
    if (const char* v = std::getenv(var)) {
      const int n = std::atoi(v);
      if (n > 0) return std::min(n, max_threads());
    }
  }
  return max_threads();
}

int clamp_threads(int requested, std::ostream* note, const char* flag) {
  const int most = max_threads();
  if (requested <= most) return requested;
  if (note != nullptr)
    *note << "gearbox: note: " << flag << " " << requested << " is more than the " << most
          << " cores of this machine; using " << most << "\n";
  return most;
}

int set_threads(int n) {
  if (n <= 0) n = default_threads();
  n = std::min(n, max_threads());
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
  return n;
}

ThreadScope::ThreadScope(int n) : previous_(omp_get_max_threads()), threads_(set_threads(n)) {}

ThreadScope::~ThreadScope() {
  set_threads(previous_);
}

}  // namespace gearbox
