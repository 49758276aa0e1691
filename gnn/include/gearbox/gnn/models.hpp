// The GNN models trained full-batch over an (adaptive) aggregation: GCN (Kipf & Welling),
// GraphSAGE with the mean aggregator (PyG SAGEConv: W_self x_i + W_neigh mean_j x_j + b) and
// GIN (PyG GINConv: MLP((1 + eps) x_i + sum_j x_j), fixed eps, two-layer MLP). Each model is
// two such layers with ReLU and dropout between them, trained with softmax cross-entropy and
// Adam. Every aggregation, forward and backward (through A^T), is a call of the caller's
// Aggregation, so the density-split plans and selected kernels serve every model.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gearbox/gnn/gcn.hpp"

namespace gearbox::gnn {

enum class ModelKind { kGcn, kSage, kGin };

// "gcn", "sage", "gin"; Error::usage otherwise.
ModelKind parse_model(const std::string& s);
const char* model_name(ModelKind m);

// The matrix a model aggregates with, from the undirected simple graph `adj` (no self loops):
// gcn: D^-1/2 (A + I) D^-1/2; sage: D^-1 A (mean over neighbours, zero rows for isolated
// nodes); gin: A + (1 + gin_eps) I (sum over neighbours plus the weighted node itself).
Csr aggregation_matrix(ModelKind m, const Csr& adj, float gin_eps = 0.0f);
// Whether that matrix is symmetric (its transpose is itself): gcn and gin yes, sage no.
bool aggregation_symmetric(ModelKind m);

// Y = A X and Y = A^T X for the model's matrix A. `transpose` may be empty when A is
// symmetric; `forward` is then used for the backward pass too.
struct Aggregation {
  AggregateFn forward;
  AggregateFn transpose;
};

// One trainable tensor (row-major rows x cols; a bias has rows == 1) and its gradient.
struct Param {
  std::string name;
  int rows = 0, cols = 0;
  std::vector<float> w, g;
  bool decay = false;  // weight decay (L2) applies to it
};

class GnnModel {
 public:
  virtual ~GnnModel() = default;
  // Logits (nodes x classes) for the current parameters; `training` applies the dropout
  // masks drawn for `epoch`.
  virtual const std::vector<float>& forward(bool training, int epoch) = 0;
  // After forward(true, e): fills every Param::g with d loss / d w given dz = d loss / d logits
  // (weight decay not included).
  virtual void backward(const std::vector<float>& dz) = 0;
  std::vector<Param>& params() { return params_; }

 protected:
  std::vector<Param> params_;
};

// A model with Glorot-uniform weights (seeded by cfg.seed) and zero biases, over features
// `x` (which must outlive it) and the aggregation `agg` (its matrix built by
// aggregation_matrix for this kind). Layer widths: in -> cfg.hidden -> classes.
std::unique_ptr<GnnModel> make_model(ModelKind m, index_t nodes, const Features& x, int classes,
                                     const Aggregation& agg, const TrainConfig& cfg);

// Mean softmax cross-entropy of logits z (n x c) over the nodes `ids` with labels >= 0 (the
// mean divides by ids.size()); dz (resized to z's size) gets d loss / d z, zero elsewhere.
double softmax_cross_entropy(const std::vector<float>& z, int c,
                             const std::vector<std::int32_t>& labels,
                             const std::vector<index_t>& ids, std::vector<float>& dz);

// Trains model `m` as train_gcn does (epochs, Adam, weight decay on the decayed tensors,
// accuracy on the splits, per-epoch progress lines).
TrainResult train_model(ModelKind m, index_t nodes, const Features& x,
                        const std::vector<std::int32_t>& labels, int classes,
                        const std::vector<index_t>& train, const std::vector<index_t>& val,
                        const std::vector<index_t>& test, const Aggregation& agg,
                        const TrainConfig& cfg, std::ostream* progress);

}  // namespace gearbox::gnn
