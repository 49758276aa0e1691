#include "gearbox/gnn/eigen_baseline.hpp"

#include <Eigen/Sparse>

#include <vector>

namespace gearbox::gnn {

struct EigenSpmm::Impl {
  Eigen::SparseMatrix<float, Eigen::RowMajor, int> s;
};

EigenSpmm::EigenSpmm(const Csr& a) : impl_(std::make_unique<Impl>()) {
  impl_->s.resize(a.rows, a.cols);
  std::vector<Eigen::Triplet<float, int>> trips;
  trips.reserve(a.col.size());
  for (index_t r = 0; r < a.rows; ++r)
    for (offset_t k = a.rowptr[r]; k < a.rowptr[r + 1]; ++k)
      trips.emplace_back(r, a.col[k], a.val[k]);
  impl_->s.setFromTriplets(trips.begin(), trips.end());
}

EigenSpmm::~EigenSpmm() = default;

void EigenSpmm::run(const float* x, int f, float* y, int threads) const {
  using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const Mat> xm(x, impl_->s.cols(), f);
  Eigen::Map<Mat> ym(y, impl_->s.rows(), f);
  Eigen::setNbThreads(threads);
  ym.noalias() = impl_->s * xm;
}

}  // namespace gearbox::gnn
