#include "train_parts.hpp"

#include <cblas.h>

#include <cmath>

#include "gearbox/gnn/kernels.hpp"
#include "gearbox/gnn/random_init.hpp"

namespace gearbox::gnn::detail {

namespace {
bool big(std::size_t elems) {
  return elems >= (std::size_t{1} << 16);
}
}  // namespace

void gemm(bool ta, bool tb, int m, int n, int k, const float* a, const float* b, float* c,
          bool accumulate) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, 1.0f, a, ta ? m : k, b, tb ? k : n, accumulate ? 1.0f : 0.0f, c, n);
}

void Adam::step(Vec& w, const Vec& g, float lr) {
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

InputProjection::InputProjection(index_t nodes, const Features& x, float dropout,
                                 std::uint64_t seed)
    : n_(nodes), x_(x), p_(dropout), seed_(seed) {
  // Sparse input: a working copy whose values carry the dropout mask, and its transpose with
  // a map back to the copy's positions (for dW = Xd^T dY).
  if (x.sparse) {
    xd_ = *x.sparse;
    Csr pos = *x.sparse;
    for (std::size_t k = 0; k < pos.val.size(); ++k) pos.val[k] = static_cast<float>(k);
    xt_ = transpose(pos);
    t2x_.resize(xt_.val.size());
    for (std::size_t k = 0; k < xt_.val.size(); ++k) t2x_[k] = static_cast<offset_t>(xt_.val[k]);
  } else {
    xdense_.assign(x.dense, x.dense + static_cast<std::size_t>(n_) * x.in_dim);
  }
}

void InputProjection::prepare(bool training, int epoch) {
  dropped_ = training && p_ > 0;
  const float keep_scale = p_ < 1 ? 1.0f / (1.0f - p_) : 0.0f;
  const std::uint64_t stream = 100 + 2 * static_cast<std::uint64_t>(epoch);
  if (x_.sparse) {
    if (dropped_)
      for (std::size_t k = 0; k < xd_.val.size(); ++k)
        xd_.val[k] = counter_uniform(seed_, stream, k) < p_ ? 0.0f : x_.sparse->val[k] * keep_scale;
    else
      xd_.val = x_.sparse->val;
    xt_stale_ = true;  // the transpose's values are refreshed when a gradient needs them
  } else if (dropped_) {
#pragma omp parallel for schedule(static) if (big(xdense_.size()))
    for (std::size_t k = 0; k < xdense_.size(); ++k)
      xdense_[k] = counter_uniform(seed_, stream, k) < p_ ? 0.0f : x_.dense[k] * keep_scale;
  }
}

void InputProjection::project(const float* w, int k, float* out) {
  if (x_.sparse)
    spmm_csr(xd_, w, k, out, false);
  else
    gemm(false, false, n_, k, x_.in_dim, dropped_ ? xdense_.data() : x_.dense, w, out);
}

void InputProjection::grad(const float* dout, int k, float* gw) {
  if (x_.sparse) {
    if (xt_stale_)
      for (std::size_t e = 0; e < xt_.val.size(); ++e) xt_.val[e] = xd_.val[t2x_[e]];
    xt_stale_ = false;
    spmm_csr(xt_, dout, k, gw, false);
  } else {
    gemm(true, false, x_.in_dim, k, n_, dropped_ ? xdense_.data() : x_.dense, dout, gw);
  }
}

void relu_dropout(const Vec& pre, Vec& h, std::vector<char>& mask, bool training, float p,
                  std::uint64_t seed, std::uint64_t stream) {
  h.resize(pre.size());
  mask.resize(pre.size());
  const bool drop = training && p > 0;
  const float scale = drop ? 1.0f / (1.0f - p) : 1.0f;
#pragma omp parallel for schedule(static) if (big(pre.size()))
  for (std::size_t k = 0; k < pre.size(); ++k) {
    const bool keep = !drop || counter_uniform(seed, stream, k) >= p;
    mask[k] = keep;
    h[k] = pre[k] > 0 && keep ? pre[k] * scale : 0.0f;
  }
}

void relu_dropout_grad(Vec& d, const Vec& pre, const std::vector<char>& mask, float p) {
  const float scale = p > 0 ? 1.0f / (1.0f - p) : 1.0f;
#pragma omp parallel for schedule(static) if (big(d.size()))
  for (std::size_t k = 0; k < d.size(); ++k) d[k] = mask[k] && pre[k] > 0 ? d[k] * scale : 0.0f;
}

void relu_grad(Vec& d, const Vec& pre) {
#pragma omp parallel for schedule(static) if (big(d.size()))
  for (std::size_t k = 0; k < d.size(); ++k) d[k] = pre[k] > 0 ? d[k] : 0.0f;
}

void add_bias(float* y, std::size_t n, int k, const Vec& b) {
#pragma omp parallel for schedule(static) if (big(n * k))
  for (std::size_t i = 0; i < n; ++i)
    for (int j = 0; j < k; ++j) y[i * k + j] += b[j];
}

void column_sums(const float* d, std::size_t n, int k, Vec& gb) {
  gb.assign(static_cast<std::size_t>(k), 0.0f);
  for (std::size_t i = 0; i < n; ++i)
    for (int j = 0; j < k; ++j) gb[j] += d[i * k + j];
}

}  // namespace gearbox::gnn::detail
