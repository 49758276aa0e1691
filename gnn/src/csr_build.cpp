// Parallel construction of an undirected simple graph's CSR from edge pairs (generators,
// symmetrize_pattern): atomic degree counts, atomic scatter, then each row sorted and
// de-duplicated on its own, so the result does not depend on the thread count.
#include <algorithm>
#include <atomic>
#include <numeric>

#include "gearbox/gnn/csr.hpp"

namespace gearbox::gnn {

Csr undirected_from_pairs(index_t n, std::span<const index_t> src, std::span<const index_t> dst) {
  const std::int64_t m = static_cast<std::int64_t>(std::min(src.size(), dst.size()));
  std::vector<offset_t> start(static_cast<std::size_t>(n) + 1, 0);
#pragma omp parallel for schedule(static)
  for (std::int64_t k = 0; k < m; ++k) {
    if (src[k] == dst[k]) continue;
    std::atomic_ref<offset_t>(start[src[k] + 1]).fetch_add(1, std::memory_order_relaxed);
    std::atomic_ref<offset_t>(start[dst[k] + 1]).fetch_add(1, std::memory_order_relaxed);
  }
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<index_t> col(static_cast<std::size_t>(start[n]));
  std::vector<offset_t> next(start.begin(), start.end() - 1);
#pragma omp parallel for schedule(static)
  for (std::int64_t k = 0; k < m; ++k) {
    const index_t s = src[k], d = dst[k];
    if (s == d) continue;
    col[std::atomic_ref<offset_t>(next[s]).fetch_add(1, std::memory_order_relaxed)] = d;
    col[std::atomic_ref<offset_t>(next[d]).fetch_add(1, std::memory_order_relaxed)] = s;
  }
  next.clear();
  next.shrink_to_fit();
  // Sort and de-duplicate each row in place; then compact the rows.
  Csr a;
  a.rows = a.cols = n;
  a.rowptr.assign(static_cast<std::size_t>(n) + 1, 0);
#pragma omp parallel for schedule(dynamic, 512)
  for (index_t r = 0; r < n; ++r) {
    const auto b = col.begin() + start[r], e = col.begin() + start[r + 1];
    std::sort(b, e);
    a.rowptr[r + 1] = std::unique(b, e) - b;
  }
  std::partial_sum(a.rowptr.begin(), a.rowptr.end(), a.rowptr.begin());
  if (a.rowptr[n] == start[n]) {
    a.col = std::move(col);
  } else {
    a.col.resize(static_cast<std::size_t>(a.rowptr[n]));
#pragma omp parallel for schedule(static)
    for (index_t r = 0; r < n; ++r)
      std::copy(col.begin() + start[r], col.begin() + start[r] + a.degree(r),
                a.col.begin() + a.rowptr[r]);
  }
  a.val.assign(a.col.size(), 1.0f);
  return a;
}

}  // namespace gearbox::gnn
