#include "gearbox/serve/kernels/attention.hpp"

#include <omp.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <vector>

#include "attention_rows.hpp"
#include "gearbox/serve/kernels/fp16.hpp"
#include "gearbox/serve/kernels/ops.hpp"

namespace gearbox::serve {

namespace attn {
namespace {
template <class T, class GetK, class GetV>
RowsOf<T> flatten_with(const KvView& kv, GetK get_k, GetV get_v) {
  RowsOf<T> r;
  const int n = kv.n_rows();
  r.k.reserve(static_cast<std::size_t>(n));
  r.v.reserve(static_cast<std::size_t>(n));
  for (const auto& s : kv.spans)
    for (int i = 0; i < s.n; ++i) {
      r.k.push_back(get_k(s) + static_cast<std::size_t>(i) * s.k_stride);
      r.v.push_back(get_v(s) + static_cast<std::size_t>(i) * s.v_stride);
    }
  return r;
}
}  // namespace

Rows flatten(const KvView& kv) {
  return flatten_with<float>(
      kv, [](const KvSpan& s) { return s.k; }, [](const KvSpan& s) { return s.v; });
}

Rows16 flatten16(const KvView& kv) {
  return flatten_with<std::uint16_t>(
      kv, [](const KvSpan& s) { return s.k16; }, [](const KvSpan& s) { return s.v16; });
}

KvView widen(const KvView& kv, int kv_dim, std::vector<float>& storage) {
  if (kv.elem == KvElem::kF32) return kv;
  const Rows16 rows = flatten16(kv);
  const std::size_t n = rows.k.size(), d = static_cast<std::size_t>(kv_dim);
  if (storage.size() < 2 * n * d) storage.resize(2 * n * d);
  for (std::size_t r = 0; r < n; ++r) {
    fp16_to_floats(rows.k[r], d, storage.data() + r * d);
    fp16_to_floats(rows.v[r], d, storage.data() + (n + r) * d);
  }
  KvView out;
  out.spans.push_back({storage.data(), storage.data() + n * d, static_cast<int>(n), d, d});
  return out;
}
}  // namespace attn

namespace {
using attn::flatten;
using attn::Rows;

inline void head_axpy(float* __restrict out, float w, const float* __restrict v, int n) {
  int d = 0;
#if defined(__AVX2__) && defined(__FMA__)
  const __m256 wv = _mm256_set1_ps(w);
  for (; d + 8 <= n; d += 8)
    _mm256_storeu_ps(out + d,
                     _mm256_fmadd_ps(wv, _mm256_loadu_ps(v + d), _mm256_loadu_ps(out + d)));
#endif
  for (; d < n; ++d) out[d] += w * v[d];
}
}  // namespace

void attention(const AttentionShape& s, const float* q, int n_q, const KvView& view, float* out,
               float* row_weights) {
  const bool tiled = !row_weights && !s.f16_weights && s.softcap <= 0 &&
                     attn::tiled_supported(s, view.elem) &&
                     (s.window <= 0 || view.n_rows() <= s.window);
  if (tiled && view.elem == KvElem::kF16)
    return attn::attention_tiled(s, q, n_q, attn::flatten16(view), out);
  // The widened rows: kept per thread between calls (a decode step widens every layer's view;
  // a fresh vector cost an allocation and a zero fill of the whole view each time).
  thread_local std::vector<float> wide;
  const Rows rows = view.elem == KvElem::kF32
                        ? flatten(view)
                        : flatten(attn::widen(view, s.n_head_kv * s.head_dim, wide));
  if (tiled) return attn::attention_tiled(s, q, n_q, rows, out);
  const int n_rows = static_cast<int>(rows.k.size());
  const int hd = s.head_dim, group = s.n_head / s.n_head_kv;
  const std::size_t qd = static_cast<std::size_t>(s.n_head) * hd;
  // One task per (new token, KV head): the group's query heads share each K and V row load.
  const int tasks = s.n_head_kv * n_q;
  const int n_threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  std::vector<float> weights_acc(row_weights ? static_cast<std::size_t>(n_threads) * n_rows : 0,
                                 0.0f);
#pragma omp parallel if (tasks > 1 && !omp_in_parallel())
  {
    std::vector<float> score(static_cast<std::size_t>(group) * n_rows);
    float* wacc = row_weights
                      ? weights_acc.data() + static_cast<std::size_t>(omp_get_thread_num()) * n_rows
                      : nullptr;
#pragma omp for schedule(static)
    for (int task = 0; task < tasks; ++task) {
      const int i = task / s.n_head_kv, g = task % s.n_head_kv;
      const int end = std::min(n_rows, n_rows - n_q + i + 1);
      const int first = s.window > 0 ? std::max(0, end - s.window) : 0;
      const int visible = end - first;
      const std::size_t koff = static_cast<std::size_t>(g) * hd;
      const float* qg =
          q + static_cast<std::size_t>(i) * qd + static_cast<std::size_t>(g) * group * hd;
      float* og = out + static_cast<std::size_t>(i) * qd + static_cast<std::size_t>(g) * group * hd;
      std::fill(og, og + static_cast<std::size_t>(group) * hd, 0.0f);
      if (visible <= 0) continue;
      attn::scores_any(group, qg, rows.k.data() + first, koff, visible, visible, hd, s.scale,
                       score.data(), static_cast<std::size_t>(n_rows));
      if (s.softcap > 0)
        for (int h = 0; h < group; ++h)
          for (int j = 0; j < visible; ++j) {
            float& x = score[static_cast<std::size_t>(h) * n_rows + j];
            x = s.softcap * std::tanh(x / s.softcap);
          }
      for (int h = 0; h < group; ++h)
        softmax(score.data() + static_cast<std::size_t>(h) * n_rows, visible);
      for (int j = 0; j < visible; ++j) {
        const float* vj = rows.v[static_cast<std::size_t>(first + j)] + koff;
        if (j + attn::kAhead < visible)
          attn::prefetch_head(rows.v[static_cast<std::size_t>(first + j + attn::kAhead)] + koff,
                              hd);
        float wsum = 0;
        for (int h = 0; h < group; ++h) {
          const float w = score[static_cast<std::size_t>(h) * n_rows + j];
          head_axpy(og + static_cast<std::size_t>(h) * hd, w, vj, hd);
          wsum += w;
        }
        if (wacc) wacc[first + j] += wsum;
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

void attention_many(const AttentionShape& s, std::span<const AttentionTask> tasks) {
  const int n = static_cast<int>(tasks.size());
  // Each task runs single-threaded inside (attention() and the tiled kernel see
  // omp_in_parallel()), so no nested teams are made.
#pragma omp parallel for if (n > 1) schedule(dynamic, 1)
  for (int i = 0; i < n; ++i) {
    const AttentionTask& t = tasks[static_cast<std::size_t>(i)];
    attention(s, t.q, t.n_q, *t.kv, t.out);
  }
}

void attention_reference(const AttentionShape& s, const float* q, int n_q, const KvView& view,
                         float* out, float* row_weights) {
  std::vector<float> wide;
  const Rows rows = flatten(attn::widen(view, s.n_head_kv * s.head_dim, wide));
  const int n_rows = static_cast<int>(rows.k.size());
  const int hd = s.head_dim, group = s.n_head / s.n_head_kv;
  const std::size_t qd = static_cast<std::size_t>(s.n_head) * hd;
  if (row_weights) std::fill(row_weights, row_weights + n_rows, 0.0f);
  std::vector<double> score(static_cast<std::size_t>(n_rows));
  for (int i = 0; i < n_q; ++i)
    for (int h = 0; h < s.n_head; ++h) {
      const int kvh = h / group;
      const int visible = std::min(n_rows, n_rows - n_q + i + 1);
      const int first = s.window > 0 ? std::max(0, visible - s.window) : 0;
      const float* qh = q + static_cast<std::size_t>(i) * qd + static_cast<std::size_t>(h) * hd;
      double mx = -1e300;
      for (int j = first; j < visible; ++j) {
        double d = 0;
        for (int c = 0; c < hd; ++c)
          d += static_cast<double>(qh[c]) * rows.k[static_cast<std::size_t>(j)][kvh * hd + c];
        d *= s.scale;
        if (s.softcap > 0) d = s.softcap * std::tanh(d / s.softcap);
        score[static_cast<std::size_t>(j)] = d;
        mx = std::max(mx, score[static_cast<std::size_t>(j)]);
      }
      double sum = 0;
      for (int j = first; j < visible; ++j)
        sum += (score[static_cast<std::size_t>(j)] =
                    std::exp(score[static_cast<std::size_t>(j)] - mx));
      for (int c = 0; c < hd; ++c) {
        double o = 0;
        for (int j = first; j < visible; ++j)
          o += score[static_cast<std::size_t>(j)] / sum *
               rows.v[static_cast<std::size_t>(j)][kvh * hd + c];
        out[static_cast<std::size_t>(i) * qd + static_cast<std::size_t>(h) * hd + c] =
            static_cast<float>(o);
      }
      if (row_weights)
        for (int j = first; j < visible; ++j)
          row_weights[j] += static_cast<float>(score[static_cast<std::size_t>(j)] / sum);
    }
}

}  // namespace gearbox::serve
