// Building blocks shared by the GNN models (GCN, GraphSAGE, GIN): row-major dense products,
// Adam, the dropped-out input projection X W (sparse or dense X), ReLU + dropout with its
// gradient, bias add / column sums. Internal to gearbox_gnn.
#pragma once

#include <cstdint>
#include <vector>

#include "gearbox/gnn/gcn.hpp"

namespace gearbox::gnn::detail {

using Vec = std::vector<float>;

// c[m x n] (=|+=) op(a) op(b), row-major, through BLAS.
void gemm(bool ta, bool tb, int m, int n, int k, const float* a, const float* b, float* c,
          bool accumulate = false);

// Adam (Kingma & Ba) with bias correction, lr per step.
struct Adam {
  Vec m, v;
  int t = 0;
  void step(Vec& w, const Vec& g, float lr);
};

// The input features with the epoch's dropout applied, and X W / X^T dY on them. Dropout on
// element k of the input uses counter_uniform(seed, 100 + 2 epoch, k).
class InputProjection {
 public:
  InputProjection(index_t nodes, const Features& x, float dropout, std::uint64_t seed);
  // Draws the dropout mask for `epoch` (training) or uses the plain features (evaluation).
  void prepare(bool training, int epoch);
  // out[n x k] = X_dropped w[in x k].
  void project(const float* w, int k, float* out);
  // gw[in x k] = X_dropped^T dout[n x k] (for the last prepare()).
  void grad(const float* dout, int k, float* gw);
  int in_dim() const { return x_.in_dim; }

 private:
  index_t n_;
  Features x_;
  float p_;
  std::uint64_t seed_;
  bool dropped_ = false, xt_stale_ = true;
  Csr xd_, xt_;                // sparse: dropped copy and its transpose
  std::vector<offset_t> t2x_;  // xt_ entry -> xd_ entry
  Vec xdense_;
};

// h = dropout(relu(pre)): keeps element k when training is off or
// counter_uniform(seed, stream, k) >= p, scaling kept ones by 1 / (1 - p); records the mask.
void relu_dropout(const Vec& pre, Vec& h, std::vector<char>& mask, bool training, float p,
                  std::uint64_t seed, std::uint64_t stream);
// In place: d (gradient wrt h) becomes the gradient wrt pre.
void relu_dropout_grad(Vec& d, const Vec& pre, const std::vector<char>& mask, float p);
// In place: d *= (pre > 0).
void relu_grad(Vec& d, const Vec& pre);
// y[i, :] += b for each of the n rows of width k.
void add_bias(float* y, std::size_t n, int k, const Vec& b);
// gb = column sums of d (n x k).
void column_sums(const float* d, std::size_t n, int k, Vec& gb);

}  // namespace gearbox::gnn::detail
