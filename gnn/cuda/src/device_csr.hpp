// A CSR on the device with its launch plan, run by the CSR SpMM of csr_spmm.cu. Values may be
// rewritten between runs (training masks sparse features through them).
#pragma once

#include <cstddef>

#include "gearbox/gnn/cuda/csr_launch.hpp"
#include "gearbox/gnn/cuda/cuda_kernels.hpp"

namespace gearbox::gnn::cuda::detail {

// The launch variants of the CSR kernel (csr_launch.hpp): lanes per row group, row cap rule.
struct CsrVariant {
  int max_lanes = 32;
  RowCap cap = RowCap::kFairShare;
};

struct DeviceCsr {
  explicit DeviceCsr(const Csr& a, CsrVariant v = {});
  // Y (=|+=) A X then the epilogue; x has A.cols rows, y A.rows rows, both of width f.
  void spmm(const float* x, int f, float* y, bool acc, const Epilogue& e = {}) const;
  std::size_t bytes() const;

  index_t rows = 0;
  std::size_t nnz = 0;
  CsrVariant variant;
  CsrLaunch plan;
  DeviceBuffer rowptr, col, val, seg_row, seg_begin, seg_end, long_rows;
};

}  // namespace gearbox::gnn::cuda::detail
