#include "gearbox/gnn/matrix_plan.hpp"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "gearbox/core/error.hpp"
#include "gearbox/gnn/plan_report.hpp"

namespace gearbox::gnn {

namespace {

bool same_matrix(const Csr& a, const Csr& b) {
  return a.rows == b.rows && a.cols == b.cols && a.rowptr == b.rowptr && a.col == b.col &&
         a.val == b.val;
}

// dst row new_of_old[i] = src row i (gather == false), or dst row i = src row new_of_old[i].
void permute_rows_dense(const float* src, float* dst, const std::vector<index_t>& new_of_old, int f,
                        bool scatter_to_new) {
  const auto n = static_cast<index_t>(new_of_old.size());
  const std::size_t row = static_cast<std::size_t>(f) * sizeof(float);
#pragma omp parallel for schedule(static)
  for (index_t i = 0; i < n; ++i) {
    const std::size_t p = static_cast<std::size_t>(new_of_old[i]);
    if (scatter_to_new)
      std::memcpy(dst + p * f, src + static_cast<std::size_t>(i) * f, row);
    else
      std::memcpy(dst + static_cast<std::size_t>(i) * f, src + p * f, row);
  }
}

}  // namespace

MatrixPlan::MatrixPlan(Csr a, int feature_width, MatrixPlanOptions opt) : opt_(std::move(opt)) {
  if (a.rows != a.cols)
    throw Error::input("the adjacency must be square")
        .expected("rows == cols")
        .found(std::to_string(a.rows) + " x " + std::to_string(a.cols));
  if (feature_width < 1)
    throw Error::usage("feature width must be positive")
        .field("feature_width")
        .found(std::to_string(feature_width));
  n_ = a.rows;
  nnz_ = a.nnz();
  width_ = feature_width;
  order_ = compute_ordering(symmetrize_pattern(a), opt_.reorder, opt_.max_block, opt_.seed);
  for (index_t i = 0; i < n_ && identity_; ++i) identity_ = order_.new_of_old[i] == i;
  Csr p = identity_ ? std::move(a) : permute_symmetric(a, order_.new_of_old);
  symmetric_ = same_matrix(p, transpose(p));
  planned_ = std::make_shared<const Csr>(std::move(p));
  fwd_ = std::make_unique<AdaptiveAggregator>(planned_, order_.block_starts, opt_.selector,
                                              opt_.threads);
  if (n_ > 0) fwd_->plan_for(width_);
}

AdaptiveAggregator& MatrixPlan::aggregator(bool transpose) {
  if (!transpose || symmetric_) return *fwd_;
  if (!bwd_)
    bwd_ = std::make_unique<AdaptiveAggregator>(gnn::transpose(*planned_), order_.block_starts,
                                                opt_.selector, opt_.threads);
  return *bwd_;
}

void MatrixPlan::run(const float* x, int f, float* y, bool transpose) {
  std::lock_guard lock(mu_);
  AdaptiveAggregator& agg = aggregator(transpose);
  if (n_ == 0) return;
  if (identity_) {
    agg.run(x, f, y);
    return;
  }
  const std::size_t size = static_cast<std::size_t>(n_) * f;
  xbuf_.resize(size);
  ybuf_.resize(size);
  permute_rows_dense(x, xbuf_.data(), order_.new_of_old, f, true);
  agg.run(xbuf_.data(), f, ybuf_.data());
  permute_rows_dense(ybuf_.data(), y, order_.new_of_old, f, false);
}

nlohmann::json MatrixPlan::document(int f) {
  std::lock_guard lock(mu_);
  return plan_document(opt_.name, reorder_name(opt_.reorder), order_, *fwd_, f > 0 ? f : width_,
                       opt_.threads);
}

std::string MatrixPlan::text(int f) {
  const nlohmann::json doc = document(f);
  std::ostringstream out;
  write_plan_text(out, doc);
  return out.str();
}

nlohmann::json MatrixPlan::kernels() const {
  std::lock_guard lock(mu_);
  if (!bwd_) return fwd_->kernels();
  return {{"forward", fwd_->kernels()}, {"transpose", bwd_->kernels()}};
}

}  // namespace gearbox::gnn
