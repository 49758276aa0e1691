// Launch shape of the CUDA CSR SpMM (Y = A X, X and Y row-major n x F), planned on the host
// from the feature width and the degree distribution, so that it can be tested without a GPU.
//
// A "row group" of `lanes` consecutive lanes of a warp computes one row: each lane owns
// `chunks` vectors of `vec` floats (float4 loads when F % 4 == 0), spaced vec * lanes apart,
// within one column slab of slab_cols() columns (the grid's y dimension walks the slabs).
// Short rows: with narrow features a warp holds 32 / lanes groups, so several rows per warp;
// with very short rows a group also walks `rows_per_group` consecutive rows. Long rows: the
// row pass does the first `cap` nonzeros of every row, and the rest of each long row is cut
// into segments of at most `cap` nonzeros that a second pass adds in with atomics.
#pragma once

#include <cstdint>
#include <vector>

#include "gearbox/gnn/csr.hpp"

namespace gearbox::gnn::cuda {

// Nonzeros [begin, end) of `row`, added into Y by the segment pass.
struct RowSegment {
  index_t row = 0;
  offset_t begin = 0, end = 0;
};

// How one width maps onto lanes (depends on F only, and on whether X and Y allow 16-byte
// loads: F % 4 == 0 and both pointers 16-byte aligned).
struct CsrShape {
  int vec = 1;     // floats per load: 4 or 1
  int lanes = 32;  // lanes per row group: 4, 8, 16 or 32
  int chunks = 1;  // vectors per lane per slab: 1, 2 or 4 (only with 32 lanes)
  int slabs = 1;   // column slabs (the grid's y dimension)
  int slab_cols() const { return vec * lanes * chunks; }
};

// The shape for width f >= 1 (Error::usage below 1). max_lanes (16 or 32) bounds the lanes per
// row group: with 16, a warp computes two rows even at F = 128 (each lane then owns 2 or 4
// vectors), a variant the selector measures against the default.
CsrShape csr_shape(int f, bool vec4_ok, int max_lanes = 32);

// How long a row the row pass finishes alone: kFairShare = the nonzeros per group slot in
// flight (short critical paths on small graphs), kWholeRows = max(256, 16 x mean degree)
// (fewer segments and atomics). Both are measured by the selector.
enum class RowCap { kFairShare, kWholeRows };

// The width-independent part, planned once per matrix.
struct CsrLaunch {
  index_t rows = 0;
  int rows_per_group = 1;            // consecutive rows one group walks: 1, 2 or 4
  offset_t cap = 0;                  // nonzeros per row done by the row pass (a multiple of 32)
  std::vector<RowSegment> segments;  // the tails of rows longer than cap, in row order
  std::vector<index_t> long_rows;    // rows with tails (distinct, ascending)

  // Row groups the row pass launches (per slab).
  std::int64_t groups() const {
    return (static_cast<std::int64_t>(rows) + rows_per_group - 1) / rows_per_group;
  }
};

// The plan for `a`. `sm_count` is the device's multiprocessor count: a group walks several
// rows only while enough groups remain to fill the device.
CsrLaunch plan_csr_launch(const Csr& a, int sm_count = 132, RowCap rule = RowCap::kFairShare);

}  // namespace gearbox::gnn::cuda
