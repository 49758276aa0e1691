// GraphSAGE with the mean aggregator (PyG SAGEConv, normalize=False): per layer
// out = W_self x_i + W_neigh mean_{j in N(i)} x_j + b, with A = D^-1 A (aggregation_matrix).
// Two layers, ReLU and dropout between them, dropout on the input, weight decay on all
// weights (not biases). W_neigh is applied before aggregating (A (X W) = (A X) W), so the
// aggregation runs at the layer's output width.
#include "gearbox/gnn/random_init.hpp"
#include "model_base.hpp"

namespace gearbox::gnn::detail {

namespace {
class Sage final : public ModelBase {
 public:
  Sage(index_t nodes, const Features& x, int classes, const Aggregation& agg,
       const TrainConfig& cfg)
      : ModelBase(nodes, x, classes, agg, cfg) {
    ws1_ = add_param("w_self1", in_, hid_, 1, true);
    wn1_ = add_param("w_neigh1", in_, hid_, 3, true);
    b1_ = add_param("b1", 1, hid_, 0, false);
    ws2_ = add_param("w_self2", hid_, out_, 2, true);
    wn2_ = add_param("w_neigh2", hid_, out_, 4, true);
    b2_ = add_param("b2", 1, out_, 0, false);
    p1_ = h1pre_ = dh1_ = dp1_ = nodes_by(hid_);
    q2_ = z_ = dq2_ = nodes_by(out_);
  }

  const Vec& forward(bool training, int epoch) override {
    const int n = static_cast<int>(n_);
    input_.prepare(training, epoch);
    input_.project(w(wn1_), hid_, p1_.data());
    aggregate(p1_.data(), hid_, h1pre_.data());
    input_.project(w(ws1_), hid_, p1_.data());  // p1_ reused for the self term
    for (std::size_t k = 0; k < h1pre_.size(); ++k) h1pre_[k] += p1_[k];
    add_bias(h1pre_.data(), n_, hid_, params_[b1_].w);
    relu_dropout(h1pre_, h1_, mask_, training, cfg_.dropout, cfg_.seed,
                 101 + 2 * static_cast<std::uint64_t>(epoch));
    gemm(false, false, n, out_, hid_, h1_.data(), w(wn2_), q2_.data());
    aggregate(q2_.data(), out_, z_.data());
    gemm(false, false, n, out_, hid_, h1_.data(), w(ws2_), z_.data(), true);
    add_bias(z_.data(), n_, out_, params_[b2_].w);
    return z_;
  }

  void backward(const Vec& dz) override {
    const int n = static_cast<int>(n_);
    column_sums(dz.data(), n_, out_, params_[b2_].g);
    gemm(true, false, hid_, out_, n, h1_.data(), dz.data(), g(ws2_));
    aggregate_t(dz.data(), out_, dq2_.data());
    gemm(true, false, hid_, out_, n, h1_.data(), dq2_.data(), g(wn2_));
    gemm(false, true, n, hid_, out_, dz.data(), w(ws2_), dh1_.data());
    gemm(false, true, n, hid_, out_, dq2_.data(), w(wn2_), dh1_.data(), true);
    relu_dropout_grad(dh1_, h1pre_, mask_, cfg_.dropout);
    column_sums(dh1_.data(), n_, hid_, params_[b1_].g);
    input_.grad(dh1_.data(), hid_, g(ws1_));
    aggregate_t(dh1_.data(), hid_, dp1_.data());
    input_.grad(dp1_.data(), hid_, g(wn1_));
  }

 private:
  std::size_t ws1_, wn1_, b1_, ws2_, wn2_, b2_;
  Vec p1_, h1pre_, h1_, q2_, z_, dq2_, dh1_, dp1_;
  std::vector<char> mask_;
};
}  // namespace

std::unique_ptr<GnnModel> make_sage(index_t nodes, const Features& x, int classes,
                                    const Aggregation& agg, const TrainConfig& cfg) {
  return std::make_unique<Sage>(nodes, x, classes, agg, cfg);
}

}  // namespace gearbox::gnn::detail
