// A CSR on the device with its launch plan (see device_csr.hpp).
#include "device_csr.hpp"

#include <cstdint>

#include "handles.hpp"
#include "launch.hpp"

namespace gearbox::gnn::cuda::detail {

namespace {
bool aligned16(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % 16 == 0;
}
}  // namespace

DeviceCsr::DeviceCsr(const Csr& a, CsrVariant v)
    : rows(a.rows),
      nnz(a.col.size()),
      variant(v),
      plan(plan_csr_launch(a, sm_count(), v.cap)),
      rowptr(to_device(a.rowptr)),
      col(to_device(a.col)),
      val(to_device(a.val)) {
  std::vector<std::int32_t> r;
  std::vector<std::int64_t> b, e;
  for (const RowSegment& s : plan.segments) {
    r.push_back(s.row);
    b.push_back(s.begin);
    e.push_back(s.end);
  }
  seg_row = to_device(r);
  seg_begin = to_device(b);
  seg_end = to_device(e);
  long_rows = to_device(plan.long_rows);
}

void DeviceCsr::spmm(const float* x, int f, float* y, bool acc, const Epilogue& ep) const {
  if (rows == 0) return;
  const CsrShape s = csr_shape(f, aligned16(x) && aligned16(y), variant.max_lanes);
  CsrArgs a;
  a.rowptr = rowptr.as<std::int64_t>();
  a.col = col.as<std::int32_t>();
  a.val = val.as<float>();
  a.rows = rows;
  a.f = f;
  a.vec = s.vec;
  a.lanes = s.lanes;
  a.chunks = s.chunks;
  a.slabs = s.slabs;
  a.rows_per_group = plan.rows_per_group;
  a.cap = plan.cap;
  a.seg_row = seg_row.as<std::int32_t>();
  a.seg_begin = seg_begin.as<std::int64_t>();
  a.seg_end = seg_end.as<std::int64_t>();
  a.nseg = static_cast<std::int64_t>(plan.segments.size());
  a.long_rows = long_rows.as<std::int32_t>();
  a.nlong = static_cast<std::int64_t>(plan.long_rows.size());
  csr_spmm(a, x, y, acc, ep.bias, ep.relu);
}

std::size_t DeviceCsr::bytes() const {
  return rowptr.bytes() + col.bytes() + val.bytes() + seg_row.bytes() + seg_begin.bytes() +
         seg_end.bytes() + long_rows.bytes();
}

}  // namespace gearbox::gnn::cuda::detail
