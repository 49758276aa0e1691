// Launch shape of the CUDA CSR SpMM from the width and the degree distribution.
#include "gearbox/gnn/cuda/csr_launch.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "gearbox/core/error.hpp"

namespace gearbox::gnn::cuda {

namespace {

int next_pow2(int v) {
  int p = 1;
  while (p < v) p *= 2;
  return p;
}

}  // namespace

CsrShape csr_shape(int f, bool vec4_ok, int max_lanes) {
  if (f < 1)
    throw Error::usage("feature width must be at least 1").field("dim").found(std::to_string(f));
  CsrShape s;
  s.vec = vec4_ok && f % 4 == 0 ? 4 : 1;
  const int need = (f + s.vec - 1) / s.vec;  // vectors per row
  if (max_lanes != 16 && max_lanes != 32)
    throw Error::usage("lanes per row group must be 16 or 32")
        .field("max_lanes")
        .found(std::to_string(max_lanes));
  s.lanes = std::clamp(next_pow2(need), 4, max_lanes);
  if (s.lanes == max_lanes) s.chunks = need > 2 * s.lanes ? 4 : need > s.lanes ? 2 : 1;
  s.slabs = (need + s.lanes * s.chunks - 1) / (s.lanes * s.chunks);
  return s;
}

CsrLaunch plan_csr_launch(const Csr& a, int sm_count, RowCap rule) {
  CsrLaunch p;
  p.rows = a.rows;
  const double mean = a.rows > 0 ? static_cast<double>(a.nnz()) / a.rows : 0.0;
  // Very short rows: a group walks several rows so that it has a few nonzeros to overlap, but
  // only while enough groups remain in flight (64 warps per multiprocessor, up to 8 groups per
  // warp at the narrowest widths).
  const double groups_in_flight = static_cast<double>(std::max(1, sm_count)) * 64 * 8;
  if (mean < 2 && a.rows >= 4 * groups_in_flight)
    p.rows_per_group = 4;
  else if (mean < 8 && a.rows >= 2 * groups_in_flight)
    p.rows_per_group = 2;

  // Long rows: one group walks its row's nonzeros one after another, each step a dependent
  // gather (~0.25 us measured on an H200), so the longest row is the kernel's critical path.
  // The row pass stops after `cap` nonzeros and the tail of a longer row becomes segments of
  // at most cap nonzeros, each run by its own group with atomics. cap is the fair share of
  // nonzeros per group slot in flight (2048 threads per multiprocessor, 8-lane groups), at
  // least 32 (one warp-width of staged column ids) and at most max(256, 16 x mean degree),
  // rounded up to a multiple of 32: small graphs get short critical paths, large ones few
  // atomics.
  const double slots = static_cast<double>(std::max(1, sm_count)) * 2048 / 8;
  const double share = static_cast<double>(a.nnz()) / slots;
  const double most = std::max(256.0, std::ceil(16 * mean));
  const double cap = rule == RowCap::kWholeRows ? most : std::clamp(share, 32.0, most);
  const offset_t want = static_cast<offset_t>(std::ceil(cap));
  p.cap = (want + 31) / 32 * 32;
  for (index_t r = 0; r < a.rows; ++r) {
    const offset_t b = a.rowptr[r], e = a.rowptr[r + 1];
    if (e - b <= p.cap) continue;
    p.long_rows.push_back(r);
    for (offset_t s = b + p.cap; s < e; s += p.cap)
      p.segments.push_back({r, s, std::min(e, s + p.cap)});
  }
  return p;
}

}  // namespace gearbox::gnn::cuda
