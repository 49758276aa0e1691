#include "gearbox/serve/kernels/attention.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "gearbox/serve/kernels/ops.hpp"

namespace gearbox::serve {

namespace {
struct Rows {
  std::vector<const float*> k, v;
};
Rows flatten(const KvView& kv) {
  Rows r;
  for (const auto& s : kv.spans)
    for (int i = 0; i < s.n; ++i) {
      r.k.push_back(s.k + static_cast<std::size_t>(i) * s.k_stride);
      r.v.push_back(s.v + static_cast<std::size_t>(i) * s.v_stride);
    }
  return r;
}
}  // namespace

void attention(const AttentionShape& s, const float* q, int n_q, const KvView& kv, float* out,
               float* row_weights) {
  const Rows rows = flatten(kv);
  const int n_rows = static_cast<int>(rows.k.size());
  const int hd = s.head_dim, group = s.n_head / s.n_head_kv;
  const std::size_t qd = static_cast<std::size_t>(s.n_head) * hd;
  const int tasks = s.n_head * n_q;
  const int n_threads = omp_get_max_threads();
  std::vector<float> weights_acc(row_weights ? static_cast<std::size_t>(n_threads) * n_rows : 0,
                                 0.0f);
#pragma omp parallel
  {
    std::vector<float> score(static_cast<std::size_t>(n_rows));
    float* wacc = row_weights
                      ? weights_acc.data() + static_cast<std::size_t>(omp_get_thread_num()) * n_rows
                      : nullptr;
#pragma omp for schedule(static)
    for (int task = 0; task < tasks; ++task) {
      const int i = task / s.n_head, h = task % s.n_head;
      const int kvh = h / group;
      const int visible = std::min(n_rows, n_rows - n_q + i + 1);
      const float* qh = q + static_cast<std::size_t>(i) * qd + static_cast<std::size_t>(h) * hd;
      float* oh = out + static_cast<std::size_t>(i) * qd + static_cast<std::size_t>(h) * hd;
      for (int d = 0; d < hd; ++d) oh[d] = 0;
      if (visible <= 0) continue;
      for (int j = 0; j < visible; ++j)
        score[static_cast<std::size_t>(j)] =
            dot_f32(qh, rows.k[static_cast<std::size_t>(j)] + static_cast<std::size_t>(kvh) * hd,
                    hd) *
            s.scale;
      softmax(score.data(), visible);
      for (int j = 0; j < visible; ++j) {
        const float w = score[static_cast<std::size_t>(j)];
        const float* vj = rows.v[static_cast<std::size_t>(j)] + static_cast<std::size_t>(kvh) * hd;
        for (int d = 0; d < hd; ++d) oh[d] += w * vj[d];
        if (wacc) wacc[j] += w;
      }
    }
  }
  if (row_weights) {
    for (int j = 0; j < n_rows; ++j) {
      float sum = 0;
      for (int t = 0; t < n_threads; ++t)
        sum += weights_acc[static_cast<std::size_t>(t) * n_rows + j];
      row_weights[j] = sum;
    }
  }
}

void attention_reference(const AttentionShape& s, const float* q, int n_q, const KvView& kv,
                         float* out, float* row_weights) {
  const Rows rows = flatten(kv);
  const int n_rows = static_cast<int>(rows.k.size());
  const int hd = s.head_dim, group = s.n_head / s.n_head_kv;
  const std::size_t qd = static_cast<std::size_t>(s.n_head) * hd;
  if (row_weights) std::fill(row_weights, row_weights + n_rows, 0.0f);
  std::vector<double> score(static_cast<std::size_t>(n_rows));
  for (int i = 0; i < n_q; ++i)
    for (int h = 0; h < s.n_head; ++h) {
      const int kvh = h / group;
      const int visible = std::min(n_rows, n_rows - n_q + i + 1);
      const float* qh = q + static_cast<std::size_t>(i) * qd + static_cast<std::size_t>(h) * hd;
      double mx = -1e300;
      for (int j = 0; j < visible; ++j) {
        double d = 0;
        for (int c = 0; c < hd; ++c)
          d += static_cast<double>(qh[c]) * rows.k[static_cast<std::size_t>(j)][kvh * hd + c];
        score[static_cast<std::size_t>(j)] = d * s.scale;
        mx = std::max(mx, score[static_cast<std::size_t>(j)]);
      }
      double sum = 0;
      for (int j = 0; j < visible; ++j)
        sum += (score[static_cast<std::size_t>(j)] =
                    std::exp(score[static_cast<std::size_t>(j)] - mx));
      for (int c = 0; c < hd; ++c) {
        double o = 0;
        for (int j = 0; j < visible; ++j)
          o += score[static_cast<std::size_t>(j)] / sum *
               rows.v[static_cast<std::size_t>(j)][kvh * hd + c];
        out[static_cast<std::size_t>(i) * qd + static_cast<std::size_t>(h) * hd + c] =
            static_cast<float>(o);
      }
      if (row_weights)
        for (int j = 0; j < visible; ++j)
          row_weights[j] += static_cast<float>(score[static_cast<std::size_t>(j)] / sum);
    }
}

}  // namespace gearbox::serve
