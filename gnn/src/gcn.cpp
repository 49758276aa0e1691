// GCN (Kipf & Welling 2017): Z = A_hat dropout(relu(A_hat dropout(X) W1)) W2, no biases,
// weight decay on W1 only.
#include "gearbox/gnn/gcn.hpp"

#include "gearbox/gnn/random_init.hpp"
#include "model_base.hpp"

namespace gearbox::gnn {
namespace detail {

namespace {
class Gcn final : public ModelBase {
 public:
  Gcn(index_t nodes, const Features& x, int classes, const Aggregation& agg, const TrainConfig& cfg)
      : ModelBase(nodes, x, classes, agg, cfg) {
    w1_ = add_param("w1", in_, hid_, 1, true);
    w2_ = add_param("w2", hid_, out_, 2, false);
    xw_ = h1pre_ = dh1_ = dxw_ = nodes_by(hid_);
    hw_ = z_ = dhw_ = nodes_by(out_);
  }

  const Vec& forward(bool training, int epoch) override {
    input_.prepare(training, epoch);
    input_.project(w(w1_), hid_, xw_.data());
    aggregate(xw_.data(), hid_, h1pre_.data());
    relu_dropout(h1pre_, h1_, mask_, training, cfg_.dropout, cfg_.seed,
                 101 + 2 * static_cast<std::uint64_t>(epoch));
    gemm(false, false, static_cast<int>(n_), out_, hid_, h1_.data(), w(w2_), hw_.data());
    aggregate(hw_.data(), out_, z_.data());
    return z_;
  }

  void backward(const Vec& dz) override {
    const int n = static_cast<int>(n_);
    aggregate_t(dz.data(), out_, dhw_.data());
    gemm(true, false, hid_, out_, n, h1_.data(), dhw_.data(), g(w2_));
    gemm(false, true, n, hid_, out_, dhw_.data(), w(w2_), dh1_.data());
    relu_dropout_grad(dh1_, h1pre_, mask_, cfg_.dropout);
    aggregate_t(dh1_.data(), hid_, dxw_.data());
    input_.grad(dxw_.data(), hid_, g(w1_));
  }

 private:
  std::size_t w1_, w2_;
  Vec xw_, h1pre_, h1_, hw_, z_, dhw_, dh1_, dxw_;
  std::vector<char> mask_;
};
}  // namespace

std::unique_ptr<GnnModel> make_gcn(index_t nodes, const Features& x, int classes,
                                   const Aggregation& agg, const TrainConfig& cfg) {
  return std::make_unique<Gcn>(nodes, x, classes, agg, cfg);
}

}  // namespace detail

TrainResult train_gcn(index_t nodes, const Features& x, const std::vector<std::int32_t>& labels,
                      int classes, const std::vector<index_t>& train,
                      const std::vector<index_t>& val, const std::vector<index_t>& test,
                      const AggregateFn& aggregate, const TrainConfig& cfg,
                      std::ostream* progress) {
  return train_model(ModelKind::kGcn, nodes, x, labels, classes, train, val, test,
                     Aggregation{aggregate, {}}, cfg, progress);
}

}  // namespace gearbox::gnn
