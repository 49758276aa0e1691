// Thread count control shared by OpenMP kernels and OpenBLAS: one knob, `--threads`.
#pragma once

#include <iosfwd>

namespace gearbox {

// The most threads gearbox runs: the machine's logical cores (read once per process). More
// only oversubscribes, and under an address-space limit OpenBLAS spins forever allocating
// buffers for 64 threads.
int max_threads();

// Threads to use when the user gives 0 ("auto"): the machine's logical cores, or
// GEARBOX_THREADS / OMP_NUM_THREADS when set (at most max_threads()).
int default_threads();

// `requested` clamped to max_threads(); when it was more, writes one line saying so on `note`
// (if not null), naming `flag`. 0 (auto) stays 0.
int clamp_threads(int requested, std::ostream* note, const char* flag = "--threads");

// Sets the thread count for OpenMP regions and BLAS calls made by this thread from now on.
// n <= 0 means default_threads(); n > max_threads() means max_threads(). Returns the count in
// effect.
int set_threads(int n);

// Sets the thread count for the lifetime of the scope, restoring the previous one after.
class ThreadScope {
 public:
  explicit ThreadScope(int n);
  ~ThreadScope();
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;
  int threads() const { return threads_; }

 private:
  int previous_;
  int threads_;
};

}  // namespace gearbox
