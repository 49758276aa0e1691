// What the CPU kernels share about threads: when a loop is worth an OpenMP team, and each
// thread's rows balanced by nonzeros; plus the compile-time AVX2/FMA switch of the BSR tile
// loop (the row loops dispatch at run time: kernel_rows.hpp).
#pragma once

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define GEARBOX_GNN_AVX2 1
#endif

#include "gearbox/gnn/csr.hpp"

namespace gearbox::gnn::detail {

// Whether a loop of about `work` multiply-adds is worth an OpenMP team: below it, waking and
// synchronising threads costs more than the work (and far more on an oversubscribed machine).
inline bool worth_threads(offset_t work) {
  return work >= (offset_t{1} << 19);
}

// The first row of the part of [0, rows) that thread t of nt should take, balancing
// nnz + rows (binary search on rowptr[r] + r, which is increasing).
inline index_t balanced_row(const offset_t* rowptr, index_t rows, int t, int nt) {
  const offset_t total = rowptr[rows] + rows;
  const offset_t goal = total * t / nt;
  index_t lo = 0, hi = rows;
  while (lo < hi) {
    const index_t mid = lo + (hi - lo) / 2;
    if (rowptr[mid] + mid < goal)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

}  // namespace gearbox::gnn::detail
