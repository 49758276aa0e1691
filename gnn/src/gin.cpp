// GIN (PyG GINConv, eps fixed): per layer out = MLP((1 + eps) x_i + sum_{j in N(i)} x_j) with
// MLP = Linear -> ReLU -> Linear, through A = A + (1 + eps) I (aggregation_matrix). Two
// layers (in -> hidden -> hidden, hidden -> hidden -> classes), ReLU and dropout between
// them, dropout on the input, weight decay on all weights (not biases). The MLP's first
// Linear is applied before aggregating (A (X W) + b = (A X) W + b), so the aggregation runs
// at the hidden width.
#include "gearbox/gnn/random_init.hpp"
#include "model_base.hpp"

namespace gearbox::gnn::detail {

namespace {
class Gin final : public ModelBase {
 public:
  Gin(index_t nodes, const Features& x, int classes, const Aggregation& agg, const TrainConfig& cfg)
      : ModelBase(nodes, x, classes, agg, cfg) {
    w1a_ = add_param("w1a", in_, hid_, 1, true);
    b1a_ = add_param("b1a", 1, hid_, 0, false);
    w1b_ = add_param("w1b", hid_, hid_, 3, true);
    b1b_ = add_param("b1b", 1, hid_, 0, false);
    w2a_ = add_param("w2a", hid_, hid_, 2, true);
    b2a_ = add_param("b2a", 1, hid_, 0, false);
    w2b_ = add_param("w2b", hid_, out_, 4, true);
    b2b_ = add_param("b2b", 1, out_, 0, false);
    u_ = v1_ = r1_ = hpre_ = v2_ = r2_ = d1_ = d2_ = nodes_by(hid_);
    z_ = nodes_by(out_);
  }

  const Vec& forward(bool training, int epoch) override {
    const int n = static_cast<int>(n_);
    input_.prepare(training, epoch);
    input_.project(w(w1a_), hid_, u_.data());
    aggregate(u_.data(), hid_, v1_.data());
    add_bias(v1_.data(), n_, hid_, params_[b1a_].w);
    relu_dropout(v1_, r1_, scratch_, false, 0, 0, 0);
    gemm(false, false, n, hid_, hid_, r1_.data(), w(w1b_), hpre_.data());
    add_bias(hpre_.data(), n_, hid_, params_[b1b_].w);
    relu_dropout(hpre_, h1_, mask_, training, cfg_.dropout, cfg_.seed,
                 101 + 2 * static_cast<std::uint64_t>(epoch));
    gemm(false, false, n, hid_, hid_, h1_.data(), w(w2a_), u_.data());
    aggregate(u_.data(), hid_, v2_.data());
    add_bias(v2_.data(), n_, hid_, params_[b2a_].w);
    relu_dropout(v2_, r2_, scratch_, false, 0, 0, 0);
    gemm(false, false, n, out_, hid_, r2_.data(), w(w2b_), z_.data());
    add_bias(z_.data(), n_, out_, params_[b2b_].w);
    return z_;
  }

  void backward(const Vec& dz) override {
    const int n = static_cast<int>(n_);
    // Layer 2: z = relu(A (h1 W2a) + b2a) W2b + b2b.
    gemm(true, false, hid_, out_, n, r2_.data(), dz.data(), g(w2b_));
    column_sums(dz.data(), n_, out_, params_[b2b_].g);
    gemm(false, true, n, hid_, out_, dz.data(), w(w2b_), d1_.data());
    relu_grad(d1_, v2_);
    column_sums(d1_.data(), n_, hid_, params_[b2a_].g);
    aggregate_t(d1_.data(), hid_, d2_.data());
    gemm(true, false, hid_, hid_, n, h1_.data(), d2_.data(), g(w2a_));
    gemm(false, true, n, hid_, hid_, d2_.data(), w(w2a_), d1_.data());
    // Layer 1: h1 = dropout(relu(relu(A (X W1a) + b1a) W1b + b1b)).
    relu_dropout_grad(d1_, hpre_, mask_, cfg_.dropout);
    gemm(true, false, hid_, hid_, n, r1_.data(), d1_.data(), g(w1b_));
    column_sums(d1_.data(), n_, hid_, params_[b1b_].g);
    gemm(false, true, n, hid_, hid_, d1_.data(), w(w1b_), d2_.data());
    relu_grad(d2_, v1_);
    column_sums(d2_.data(), n_, hid_, params_[b1a_].g);
    aggregate_t(d2_.data(), hid_, d1_.data());
    input_.grad(d1_.data(), hid_, g(w1a_));
  }

 private:
  std::size_t w1a_, b1a_, w1b_, b1b_, w2a_, b2a_, w2b_, b2b_;
  Vec u_, v1_, r1_, hpre_, h1_, v2_, r2_, z_, d1_, d2_;
  std::vector<char> mask_, scratch_;  // dropout mask of h1; unused mask of plain ReLUs
};
}  // namespace

std::unique_ptr<GnnModel> make_gin(index_t nodes, const Features& x, int classes,
                                   const Aggregation& agg, const TrainConfig& cfg) {
  return std::make_unique<Gin>(nodes, x, classes, agg, cfg);
}

}  // namespace gearbox::gnn::detail
