// The adaptive aggregation a model trains with: the model's matrix (aggregation_matrix) and,
// when it is not symmetric (GraphSAGE's D^-1 A), its transpose for the backward pass, each
// with its own AdaptiveAggregator (density split, candidates, measured choice) over the same
// diagonal blocks, on the device opt.device (the functions then take device pointers).
#pragma once

#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "gearbox/gnn/models.hpp"
#include "gearbox/gnn/plan.hpp"

namespace gearbox::gnn {

class AdaptiveModelAggregation {
 public:
  // `adj`: the (reordered) undirected simple graph; `block_starts`: its diagonal blocks.
  AdaptiveModelAggregation(ModelKind m, const Csr& adj, const std::vector<index_t>& block_starts,
                           SelectorOptions opt, int threads, float gin_eps = 0.0f);
  // Forward and transpose functions for make_model / train_model (valid while this lives).
  Aggregation functions();
  // Selects the kernels for these widths now rather than on first use.
  void prepare(const std::vector<int>& widths);
  const Csr& matrix() const { return *a_; }
  // Chosen kernels per width: the forward aggregator's, or {"forward": .., "transpose": ..}.
  nlohmann::json kernels() const;
  // The selectors' explanations, in the same shape as kernels().
  nlohmann::json explain() const;
  double selection_seconds() const;

 private:
  std::shared_ptr<const Csr> a_;  // shared with the aggregators (and their plans)
  std::unique_ptr<AdaptiveAggregator> fwd_, bwd_;
};

}  // namespace gearbox::gnn
