// The Eigen anchor: Eigen's sparse (row-major CSR) times dense product, for the benchmark.
#pragma once

#include <memory>

#include "gearbox/gnn/csr.hpp"

namespace gearbox::gnn {

class EigenSpmm {
 public:
  // Copies `a` into an Eigen::SparseMatrix<float, RowMajor>.
  explicit EigenSpmm(const Csr& a);
  ~EigenSpmm();
  // Y = A X (row-major n x f), with Eigen's own threading set to `threads`.
  void run(const float* x, int f, float* y, int threads) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gearbox::gnn
