// What the GNN model classes share: sizes, config, the input projection, the aggregation and
// parameter creation. Internal to gearbox_gnn; each model lives in its own file.
#pragma once

#include <memory>

#include "gearbox/gnn/models.hpp"
#include "train_parts.hpp"

namespace gearbox::gnn::detail {

class ModelBase : public GnnModel {
 protected:
  ModelBase(index_t nodes, const Features& x, int classes, const Aggregation& agg,
            const TrainConfig& cfg);
  // Adds a rows x cols tensor: Glorot-uniform from `stream` when stream > 0, else zeros.
  // Returns its index in params_ (indices stay valid; pointers may not while adding).
  std::size_t add_param(const char* name, int rows, int cols, std::uint64_t stream, bool decay);
  float* w(std::size_t i) { return params_[i].w.data(); }
  float* g(std::size_t i) { return params_[i].g.data(); }
  // Y = A X and Y = A^T X with the model's aggregation.
  void aggregate(const float* x, int f, float* y) const { agg_.forward(x, f, y); }
  void aggregate_t(const float* x, int f, float* y) const {
    (agg_.transpose ? agg_.transpose : agg_.forward)(x, f, y);
  }
  // Vector of n x k floats.
  Vec nodes_by(int k) const { return Vec(n_ * static_cast<std::size_t>(k)); }

  std::size_t n_;
  int in_, hid_, out_;
  TrainConfig cfg_;
  InputProjection input_;
  Aggregation agg_;
};

std::unique_ptr<GnnModel> make_gcn(index_t nodes, const Features& x, int classes,
                                   const Aggregation& agg, const TrainConfig& cfg);
std::unique_ptr<GnnModel> make_sage(index_t nodes, const Features& x, int classes,
                                    const Aggregation& agg, const TrainConfig& cfg);
std::unique_ptr<GnnModel> make_gin(index_t nodes, const Features& x, int classes,
                                   const Aggregation& agg, const TrainConfig& cfg);

}  // namespace gearbox::gnn::detail
