// Quantized KV rows: per-value error bound of the codec on awkward sizes, bytes per row, and
// attention over an int8 / int4 cache against the same attention over floats.
#include <algorithm>
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "gearbox/serve/kernels/fp16.hpp"
#include "gearbox/serve/kv/paged_kv_cache.hpp"
#include "gearbox/serve/kv/row_codec.hpp"

namespace gearbox::serve::kv {
namespace {

TEST(RowCodec, BytesPerRow) {
  EXPECT_EQ(row_bytes(KvRowFormat::kF32, 64), 256u);
  EXPECT_EQ(row_bytes(KvRowFormat::kF16, 64), 128u);
  EXPECT_EQ(row_bytes(KvRowFormat::kInt8, 64), 64u + 2 * 4);
  EXPECT_EQ(row_bytes(KvRowFormat::kInt4, 64), 32u + 2 * 4);
  EXPECT_EQ(row_bytes(KvRowFormat::kInt8, 33), 33u + 2 * 4);
  EXPECT_EQ(row_bytes(KvRowFormat::kInt4, 33), 17u + 2 * 4);
}

TEST(RowCodec, ErrorWithinHalfAStepOnAwkwardSizes) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  for (auto f : {KvRowFormat::kF32, KvRowFormat::kF16, KvRowFormat::kInt8, KvRowFormat::kInt4})
    for (int n : {1, 2, 7, 31, 32, 33, 100, 576}) {
      std::vector<float> x(static_cast<std::size_t>(n)), y(x.size());
      for (auto& v : x) v = nd(rng);
      if (n > 3) x[2] = 0.0f;
      std::vector<std::byte> buf(row_bytes(f, n) + 1);  // +1: encode from an odd address
      encode_row(f, x.data(), n, buf.data() + 1);
      decode_row(f, buf.data() + 1, n, y.data());
      const int qmax = f == KvRowFormat::kInt8 ? 127 : 7;
      for (int g = 0; g * kKvQuantGroup < n; ++g) {
        float amax = 0;
        const int hi = std::min(n, (g + 1) * kKvQuantGroup);
        for (int i = g * kKvQuantGroup; i < hi; ++i) amax = std::max(amax, std::fabs(x[i]));
        const float bound = f == KvRowFormat::kF32 ? 0.0f : amax / qmax / 2 * 1.0001f;
        for (int i = g * kKvQuantGroup; i < hi; ++i) {
          // fp16: half a unit in the last place, 2^-11 relative (these values are normal).
          const float b = f == KvRowFormat::kF16 ? std::fabs(x[i]) * 0x1p-11f : bound;
          ASSERT_LE(std::fabs(x[i] - y[i]), b) << format_name(f) << " n=" << n << " i=" << i;
        }
      }
    }
}

// softmax(q . k / sqrt(d)) v for one head over rows of width d.
std::vector<float> attend(const std::vector<float>& q, const std::vector<std::vector<float>>& k,
                          const std::vector<std::vector<float>>& v) {
  const std::size_t d = q.size();
  std::vector<double> s(k.size());
  double mx = -1e300;
  for (std::size_t r = 0; r < k.size(); ++r) {
    double dot = 0;
    for (std::size_t i = 0; i < d; ++i) dot += q[i] * k[r][i];
    s[r] = dot / std::sqrt(static_cast<double>(d));
    mx = std::max(mx, s[r]);
  }
  double z = 0;
  for (auto& x : s) z += (x = std::exp(x - mx));
  std::vector<float> out(d, 0.0f);
  for (std::size_t r = 0; r < k.size(); ++r)
    for (std::size_t i = 0; i < d; ++i) out[i] += static_cast<float>(s[r] / z) * v[r][i];
  return out;
}

// Attention through a cache of `fmt` over n random rows, against floats; returns the largest
// output error relative to max |v|.
double attention_error(KvRowFormat fmt, int n, int d) {
  PagedKvConfig c;
  c.n_layer = 1;
  c.kv_dim = d;
  c.block_tokens = 16;
  c.format = fmt;
  PagedKvCache cache(c);
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> k(static_cast<std::size_t>(n * d)), v(k.size()),
      q(static_cast<std::size_t>(d));
  for (auto& x : k) x = 2.0f * nd(rng);
  for (auto& x : v) x = nd(rng);
  for (auto& x : q) x = nd(rng);
  std::vector<std::int32_t> pos(static_cast<std::size_t>(n));
  cache.begin(0, n, pos);
  cache.write(0, 0, n, k.data(), v.data());
  std::vector<std::vector<float>> kf, vf, kq, vq;
  for (int r = 0; r < n; ++r) {
    kf.emplace_back(k.begin() + r * d, k.begin() + (r + 1) * d);
    vf.emplace_back(v.begin() + r * d, v.begin() + (r + 1) * d);
  }
  const KvView view = cache.read(0, 0);
  for (const auto& s : view.spans)
    for (int i = 0; i < s.n; ++i) {
      if (view.elem == KvElem::kF16) {  // read in place: widen for the float reference
        auto widen = [d](const std::uint16_t* h) {
          std::vector<float> out(static_cast<std::size_t>(d));
          for (int j = 0; j < d; ++j) out[static_cast<std::size_t>(j)] = fp16_to_float(h[j]);
          return out;
        };
        kq.push_back(widen(s.k16 + i * s.k_stride));
        vq.push_back(widen(s.v16 + i * s.v_stride));
        continue;
      }
      kq.emplace_back(s.k + i * s.k_stride, s.k + i * s.k_stride + d);
      vq.emplace_back(s.v + i * s.v_stride, s.v + i * s.v_stride + d);
    }
  const auto a = attend(q, kf, vf), b = attend(q, kq, vq);
  double vmax = 0, err = 0;
  for (float x : v) vmax = std::max(vmax, static_cast<double>(std::fabs(x)));
  for (int i = 0; i < d; ++i) err = std::max(err, static_cast<double>(std::fabs(a[i] - b[i])));
  return err / vmax;
}

// Stated tolerances: int8 attention output within 1% of max|V| of float attention; int4
// within 10%. (Measured on this data: see the printed values.)
TEST(KvQuant, Int8AttentionWithinOnePercentOfFloat) {
  for (int n : {1, 17, 300}) {
    const double e = attention_error(KvRowFormat::kInt8, n, 64);
    RecordProperty("int8_err_n" + std::to_string(n), std::to_string(e));
    EXPECT_LT(e, 0.01) << "n=" << n;
    EXPECT_EQ(attention_error(KvRowFormat::kF32, n, 64), 0.0);
  }
}

// fp16 rows are read in place (KvElem::kF16 spans); attention within 0.1% of float.
TEST(KvQuant, F16AttentionWithinOneTenthPercentOfFloat) {
  for (int n : {1, 17, 300}) EXPECT_LT(attention_error(KvRowFormat::kF16, n, 64), 0.001);
}

TEST(KvQuant, Int4AttentionWithinTenPercentOfFloat) {
  for (int n : {1, 17, 300}) EXPECT_LT(attention_error(KvRowFormat::kInt4, n, 64), 0.10);
}

TEST(KvQuant, BytesPerTokenByFormat) {
  PagedKvConfig c;
  c.n_layer = 30;
  c.kv_dim = 192;  // SmolLM2-135M: 3 KV heads x 64
  const auto per_token = [&](KvRowFormat f) {
    c.format = f;
    return PagedKvCache(c).bytes_per_token();
  };
  EXPECT_EQ(per_token(KvRowFormat::kF32), 30u * 2 * 192 * 4);
  EXPECT_EQ(per_token(KvRowFormat::kF16), 30u * 2 * 192 * 2);
  EXPECT_EQ(per_token(KvRowFormat::kInt8), 30u * 2 * (192 + 6 * 4));
  EXPECT_EQ(per_token(KvRowFormat::kInt4), 30u * 2 * (96 + 6 * 4));
}

}  // namespace
}  // namespace gearbox::serve::kv
