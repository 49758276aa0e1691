// Thread count control shared by OpenMP kernels and OpenBLAS: one knob, `--threads`.
#pragma once

namespace gearbox {

// Threads to use when the user gives 0 ("auto"): the machine's logical cores, or
// GEARBOX_THREADS / OMP_NUM_THREADS when set.
int default_threads();

// Sets the thread count for OpenMP regions and BLAS calls made by this thread from now on.
// n <= 0 means default_threads(). Returns the count in effect.
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
