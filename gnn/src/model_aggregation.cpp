#include "gearbox/gnn/model_aggregation.hpp"

namespace gearbox::gnn {

AdaptiveModelAggregation::AdaptiveModelAggregation(ModelKind m, const Csr& adj,
                                                   const std::vector<index_t>& block_starts,
                                                   SelectorOptions opt, int threads, float gin_eps)
    : a_(std::make_shared<const Csr>(aggregation_matrix(m, adj, gin_eps))) {
  fwd_ = std::make_unique<AdaptiveAggregator>(a_, block_starts, opt, threads);
  if (!aggregation_symmetric(m))
    bwd_ = std::make_unique<AdaptiveAggregator>(transpose(*a_), block_starts, opt, threads);
}

Aggregation AdaptiveModelAggregation::functions() {
  Aggregation g;
  g.forward = [f = fwd_.get()](const float* x, int w, float* y) { f->run(x, w, y); };
  if (bwd_) g.transpose = [b = bwd_.get()](const float* x, int w, float* y) { b->run(x, w, y); };
  return g;
}

void AdaptiveModelAggregation::prepare(const std::vector<int>& widths) {
  fwd_->prepare(widths);
  if (bwd_) bwd_->prepare(widths);
}

nlohmann::json AdaptiveModelAggregation::kernels() const {
  if (!bwd_) return fwd_->kernels();
  return {{"forward", fwd_->kernels()}, {"transpose", bwd_->kernels()}};
}

nlohmann::json AdaptiveModelAggregation::explain() const {
  if (!bwd_) return fwd_->explain();
  return {{"forward", fwd_->explain()}, {"transpose", bwd_->explain()}};
}

double AdaptiveModelAggregation::selection_seconds() const {
  return fwd_->selection_seconds() + (bwd_ ? bwd_->selection_seconds() : 0.0);
}

}  // namespace gearbox::gnn
