#include "gearbox/gnn/gcn.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <ostream>

#include "gearbox/core/error.hpp"
#include "gearbox/core/output.hpp"
#include "gearbox/core/stats.hpp"
#include "gearbox/gnn/kernels.hpp"
#include "gearbox/gnn/random_init.hpp"

namespace gearbox::gnn {

namespace {

using Vec = std::vector<float>;

// c[m x n] = op(a) op(b), row-major.
void gemm(bool ta, bool tb, int m, int n, int k, const float* a, const float* b, float* c) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, 1.0f, a, ta ? m : k, b, tb ? k : n, 0.0f, c, n);
}

struct Adam {
  Vec m, v;
  int t = 0;
  void step(Vec& w, const Vec& g, float lr) {
    if (m.empty()) {
      m.assign(w.size(), 0);
      v.assign(w.size(), 0);
    }
    ++t;
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    const float c1 = 1 - std::pow(b1, static_cast<float>(t)),
                c2 = 1 - std::pow(b2, static_cast<float>(t));
    for (std::size_t i = 0; i < w.size(); ++i) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      w[i] -= lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + eps);
    }
  }
};

struct Model {
  index_t n;
  int in, hid, out;
  Vec w1, w2;
};

// Row-wise softmax of z (n x c) into p.
void softmax(const Vec& z, int c, Vec& p) {
  p.resize(z.size());
  const std::size_t n = z.size() / static_cast<std::size_t>(c);
  const bool big = z.size() >= (std::size_t{1} << 16);
#pragma omp parallel for schedule(static) if (big)
  for (std::size_t i = 0; i < n; ++i) {
    const float* zi = z.data() + i * c;
    float* pi = p.data() + i * c;
    const float mx = *std::max_element(zi, zi + c);
    float s = 0;
    for (int j = 0; j < c; ++j) s += (pi[j] = std::exp(zi[j] - mx));
    for (int j = 0; j < c; ++j) pi[j] /= s;
  }
}

double accuracy(const Vec& z, int c, const std::vector<std::int32_t>& labels,
                const std::vector<index_t>& ids) {
  if (ids.empty()) return 0;
  std::size_t ok = 0, counted = 0;
  for (index_t i : ids) {
    if (labels[i] < 0) continue;
    ++counted;
    const float* zi = z.data() + static_cast<std::size_t>(i) * c;
    ok += static_cast<int>(std::max_element(zi, zi + c) - zi) == labels[i];
  }
  return counted ? static_cast<double>(ok) / static_cast<double>(counted) : 0.0;
}

}  // namespace

TrainResult train_gcn(index_t nodes, const Features& x, const std::vector<std::int32_t>& labels,
                      int classes, const std::vector<index_t>& train,
                      const std::vector<index_t>& val, const std::vector<index_t>& test,
                      const AggregateFn& aggregate, const TrainConfig& cfg,
                      std::ostream* progress) {
  if ((x.sparse == nullptr) == (x.dense == nullptr))
    throw Error::usage("train_gcn: give exactly one of sparse or dense features");
  if (static_cast<index_t>(labels.size()) != nodes || classes < 1)
    throw Error::input("training needs a label per node and at least one class");
  if (train.empty()) throw Error::input("training needs a non-empty training split");
  const std::size_t n = static_cast<std::size_t>(nodes);
  const int in = x.in_dim, hid = cfg.hidden, out = classes;
  Model m{nodes,
          in,
          hid,
          out,
          Vec(static_cast<std::size_t>(in) * hid),
          Vec(static_cast<std::size_t>(hid) * out)};
  m.w1 = glorot_uniform(m.w1.size(), in, hid, cfg.seed, 1);
  m.w2 = glorot_uniform(m.w2.size(), hid, out, cfg.seed, 2);
  Adam adam1, adam2;
  const float p = cfg.dropout, keep_scale = p < 1 ? 1.0f / (1.0f - p) : 0.0f;

  // Sparse input: a working copy whose values carry the dropout mask, and its transpose with
  // a map back to the copy's positions (for dW1 = Xd^T dXW).
  Csr xd, xt;
  std::vector<offset_t> t2x;
  if (x.sparse) {
    xd = *x.sparse;
    Csr pos = *x.sparse;
    for (std::size_t k = 0; k < pos.val.size(); ++k) pos.val[k] = static_cast<float>(k);
    xt = transpose(pos);
    t2x.resize(xt.val.size());
    for (std::size_t k = 0; k < xt.val.size(); ++k) t2x[k] = static_cast<offset_t>(xt.val[k]);
  }
  Vec xdense;
  if (x.dense) xdense.assign(x.dense, x.dense + n * in);

  const bool big = n * static_cast<std::size_t>(std::max(hid, in)) >= (std::size_t{1} << 16);
  Vec xw(n * hid), h1pre(n * hid), h1(n * hid), hw(n * out), z(n * out), prob, dz(n * out),
      dhw(n * out), dh1(n * hid), dxw(n * hid), gw1(m.w1.size()), gw2(m.w2.size());
  std::vector<char> mask(n * hid);
  double agg_ms = 0;
  auto agg = [&](const float* in_x, int f, float* y) {
    Stopwatch sw;
    aggregate(in_x, f, y);
    agg_ms += sw.ms();
  };
  // Forward pass; `training` applies dropout with the epoch's masks.
  auto forward = [&](bool training, int epoch) {
    if (x.sparse) {
      if (training && p > 0)
        for (std::size_t k = 0; k < xd.val.size(); ++k)
          xd.val[k] = counter_uniform(cfg.seed, 100 + 2 * static_cast<std::uint64_t>(epoch), k) < p
                          ? 0.0f
                          : x.sparse->val[k] * keep_scale;
      else
        xd.val = x.sparse->val;
      spmm_csr(xd, m.w1.data(), hid, xw.data(), false);
    } else {
      const float* src = x.dense;
      if (training && p > 0) {
#pragma omp parallel for schedule(static) if (big)
        for (std::size_t k = 0; k < xdense.size(); ++k)
          xdense[k] = counter_uniform(cfg.seed, 100 + 2 * static_cast<std::uint64_t>(epoch), k) < p
                          ? 0.0f
                          : x.dense[k] * keep_scale;
        src = xdense.data();
      }
      gemm(false, false, nodes, hid, in, src, m.w1.data(), xw.data());
    }
    agg(xw.data(), hid, h1pre.data());
#pragma omp parallel for schedule(static) if (big)
    for (std::size_t k = 0; k < h1.size(); ++k) {
      const bool keep =
          !training || p <= 0 ||
          counter_uniform(cfg.seed, 101 + 2 * static_cast<std::uint64_t>(epoch), k) >= p;
      mask[k] = keep;
      h1[k] = h1pre[k] > 0 && keep ? h1pre[k] * (training && p > 0 ? keep_scale : 1.0f) : 0.0f;
    }
    gemm(false, false, nodes, out, hid, h1.data(), m.w2.data(), hw.data());
    agg(hw.data(), out, z.data());
  };

  TrainResult res;
  std::vector<double> times;
  const float inv_train = 1.0f / static_cast<float>(train.size());
  for (int epoch = 1; epoch <= cfg.epochs; ++epoch) {
    Stopwatch sw;
    forward(true, epoch);
    softmax(z, out, prob);
    double loss = 0;
    std::fill(dz.begin(), dz.end(), 0.0f);
    for (index_t i : train) {
      const int y = labels[i];
      if (y < 0) continue;
      const std::size_t o = static_cast<std::size_t>(i) * out;
      loss -= std::log(std::max(prob[o + y], 1e-30f));
      for (int j = 0; j < out; ++j) dz[o + j] = (prob[o + j] - (j == y ? 1.0f : 0.0f)) * inv_train;
    }
    loss *= inv_train;
    double l2 = 0;
    for (float w : m.w1) l2 += static_cast<double>(w) * w;
    loss += cfg.weight_decay * 0.5 * l2;
    // Backward: the aggregation's transpose is itself (A_hat symmetric).
    agg(dz.data(), out, dhw.data());
    gemm(true, false, hid, out, nodes, h1.data(), dhw.data(), gw2.data());
    gemm(false, true, nodes, hid, out, dhw.data(), m.w2.data(), dh1.data());
    const float scale = p > 0 ? keep_scale : 1.0f;
#pragma omp parallel for schedule(static) if (big)
    for (std::size_t k = 0; k < dh1.size(); ++k)
      dh1[k] = mask[k] && h1pre[k] > 0 ? dh1[k] * scale : 0.0f;
    agg(dh1.data(), hid, dxw.data());
    if (x.sparse) {
      for (std::size_t k = 0; k < xt.val.size(); ++k) xt.val[k] = xd.val[t2x[k]];
      spmm_csr(xt, dxw.data(), hid, gw1.data(), false);
    } else {
      gemm(true, false, in, hid, nodes, p > 0 ? xdense.data() : x.dense, dxw.data(), gw1.data());
    }
    for (std::size_t k = 0; k < gw1.size(); ++k) gw1[k] += cfg.weight_decay * m.w1[k];
    adam1.step(m.w1, gw1, cfg.lr);
    adam2.step(m.w2, gw2, cfg.lr);
    const double ms = sw.ms();
    times.push_back(ms);
    EpochStats st{epoch, ms, loss, accuracy(z, out, labels, train), 0};
    if (cfg.evaluate_each_epoch || epoch == cfg.epochs) {
      forward(false, 0);
      st.val_acc = accuracy(z, out, labels, val);
    }
    res.epochs.push_back(st);
    if (progress)
      *progress << "epoch " << epoch << "  " << fmt_num(ms, 2) << " ms  loss " << fmt_num(loss, 4)
                << "  train " << fmt_num(st.train_acc, 3) << "  val " << fmt_num(st.val_acc, 3)
                << "\n";
  }
  forward(false, 0);
  res.train_acc = accuracy(z, out, labels, train);
  res.val_acc = accuracy(z, out, labels, val);
  res.test_acc = accuracy(z, out, labels, test);
  res.epoch_ms_median = summarize(times).median;
  res.aggregate_ms_total = agg_ms;
  return res;
}

}  // namespace gearbox::gnn
