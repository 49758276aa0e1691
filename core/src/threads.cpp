#include "gearbox/core/threads.hpp"

#include <cstdlib>
#include <thread>

#include <omp.h>

extern "C" void openblas_set_num_threads(int num_threads);

namespace gearbox {

int default_threads() {
  for (const char* var : {"GEARBOX_THREADS", "OMP_NUM_THREADS"}) {
    if (const char* v = std::getenv(var)) {
      const int n = std::atoi(v);
      if (n > 0) return n;
    }
  }
  const int hw = static_cast<int>(std::thread::hardware_concurrency());
  return hw > 0 ? hw : 1;
}

int set_threads(int n) {
  if (n <= 0) n = default_threads();
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
  return n;
}

ThreadScope::ThreadScope(int n) : previous_(omp_get_max_threads()), threads_(set_threads(n)) {}

ThreadScope::~ThreadScope() {
  set_threads(previous_);
}

}  // namespace gearbox
