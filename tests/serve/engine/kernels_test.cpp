// Fast kernels against their plain references on random inputs of awkward sizes: quantized
// matrix products, fp16 conversion, RMSNorm, SwiGLU, attention (GQA, causal, split spans),
// and RoPE's properties.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "gearbox/core/error.hpp"
#include "gearbox/core/threads.hpp"
#include "gearbox/serve/kernels/attention.hpp"
#include "gearbox/serve/kernels/fp16.hpp"
#include "gearbox/serve/kernels/matmul.hpp"
#include "gearbox/serve/kernels/ops.hpp"
#include "gearbox/serve/model/rope.hpp"

namespace gearbox::serve {
namespace {

std::vector<float> random_vec(std::size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

struct Quantized {
  std::vector<std::uint8_t> bytes;
  WeightMatrix w;
};

Quantized make_weights(TensorType type, int rows, int cols, std::mt19937& rng) {
  const auto f = random_vec(static_cast<std::size_t>(rows) * cols, rng);
  Quantized q;
  q.w.type = type;
  q.w.rows = rows;
  q.w.cols = cols;
  q.w.row_bytes = tensor_bytes(type, static_cast<std::size_t>(cols));
  q.bytes.resize(q.w.row_bytes * rows);
  for (int r = 0; r < rows; ++r) {
    const float* src = f.data() + static_cast<std::size_t>(r) * cols;
    std::uint8_t* dst = q.bytes.data() + q.w.row_bytes * r;
    if (type == TensorType::kF32)
      std::memcpy(dst, src, static_cast<std::size_t>(cols) * 4);
    else if (type == TensorType::kF16)
      for (int c = 0; c < cols; ++c) store_u16(dst + 2 * c, float_to_fp16(src[c]));
    else if (type == TensorType::kBF16)
      for (int c = 0; c < cols; ++c) {
        std::uint32_t b;
        std::memcpy(&b, &src[c], 4);
        store_u16(dst + 2 * c, static_cast<std::uint16_t>(b >> 16));
      }
    else
      quantize_row(type, src, dst, cols);
  }
  q.w.data = q.bytes.data();
  return q;
}

class MatmulTypes : public ::testing::TestWithParam<TensorType> {};

TEST_P(MatmulTypes, FastMatchesReferencesOnAwkwardSizes) {
  const TensorType type = GetParam();
  std::mt19937 rng(7);
  for (const int threads : {1, 2})
    for (const auto& [rows, cols, n] : {std::tuple{37, 96, 1},
                                        {5, 32, 3},
                                        {64, 160, 7},
                                        {129, 576, 5},
                                        {3, 64, 9},
                                        {6, 96, 1},
                                        {23, 64, 2}}) {
      SCOPED_TRACE(testing::Message()
                   << rows << "x" << cols << " n=" << n << " threads=" << threads);
      ThreadScope scope(threads);
      auto q = make_weights(type, rows, cols, rng);
      const auto x = random_vec(static_cast<std::size_t>(n) * cols, rng);
      std::vector<float> fast(static_cast<std::size_t>(n) * rows), ref(fast.size()),
          ref8(fast.size());
      Activations a(x.data(), n, cols);
      matmul(q.w, a, fast.data());
      matmul_reference(q.w, x.data(), n, ref.data());
      matmul_reference_q8(q.w, x.data(), n, ref8.data());
      double norm = 0;
      for (float v : ref) norm = std::max(norm, static_cast<double>(std::fabs(v)));
      for (std::size_t i = 0; i < fast.size(); ++i) {
        // Same arithmetic as the scalar q8 reference up to summation order.
        EXPECT_NEAR(fast[i], ref8[i], 1e-4 * (1 + std::fabs(ref8[i])) + 1e-5 * cols) << i;
        // Against exact float products: activation quantization costs ~1% of the scale.
        EXPECT_NEAR(fast[i], ref[i], 0.02 * norm + 1e-3) << i;
      }
    }
}

// matmul_many (one parallel region for several products of the same activations) gives
// matmul's results bit for bit, for products of different heights and types.
TEST(MatmulMany, EqualsSeparateProducts) {
  std::mt19937 rng(11);
  for (const int threads : {1, 2})
    for (const int n : {1, 3, 6}) {
      SCOPED_TRACE(testing::Message() << "n=" << n << " threads=" << threads);
      ThreadScope scope(threads);
      const int cols = 96;
      const Quantized ws[] = {make_weights(TensorType::kQ4_1, 37, cols, rng),
                              make_weights(TensorType::kQ8_0, 5, cols, rng),
                              make_weights(TensorType::kQ4_1, 70, cols, rng),
                              make_weights(TensorType::kF16, 17, cols, rng)};
      const auto x = random_vec(static_cast<std::size_t>(n) * cols, rng);
      std::vector<std::vector<float>> many, one;
      std::vector<MatmulJob> jobs;
      for (const auto& q : ws) {
        many.emplace_back(static_cast<std::size_t>(n) * q.w.rows, -1.0f);
        one.emplace_back(static_cast<std::size_t>(n) * q.w.rows, -2.0f);
      }
      for (std::size_t j = 0; j < std::size(ws); ++j) jobs.push_back({&ws[j].w, many[j].data()});
      Activations a(x.data(), n, cols);
      matmul_many(jobs, a);
      for (std::size_t j = 0; j < std::size(ws); ++j) {
        Activations b(x.data(), n, cols);
        matmul(ws[j].w, b, one[j].data());
        EXPECT_EQ(many[j], one[j]) << "job " << j;
      }
    }
  std::vector<MatmulJob> too_many(9);
  std::vector<float> x(32);
  Activations a(x.data(), 1, 32);
  EXPECT_THROW(matmul_many(too_many, a), Error);
}

INSTANTIATE_TEST_SUITE_P(Types, MatmulTypes,
                         ::testing::Values(TensorType::kF32, TensorType::kF16, TensorType::kBF16,
                                           TensorType::kQ4_0, TensorType::kQ4_1,
                                           TensorType::kQ8_0));

TEST(Quant, DequantizeInvertsQuantizeWithinHalfAStep) {
  std::mt19937 rng(3);
  const auto x = random_vec(96, rng);
  for (const TensorType t : {TensorType::kQ4_0, TensorType::kQ4_1, TensorType::kQ8_0}) {
    std::vector<std::uint8_t> q(tensor_bytes(t, 96));
    std::vector<float> back(96);
    quantize_row(t, x.data(), q.data(), 96);
    dequantize_row(t, q.data(), back.data(), 96);
    for (int b = 0; b < 3; ++b) {
      float lo = 1e9f, hi = -1e9f;
      for (int j = 0; j < 32; ++j)
        lo = std::min(lo, x[b * 32 + j]), hi = std::max(hi, x[b * 32 + j]);
      const float step = (hi - lo) / (t == TensorType::kQ8_0 ? 127.0f : 7.0f);
      for (int j = 0; j < 32; ++j)
        EXPECT_NEAR(back[b * 32 + j], x[b * 32 + j], step)
            << tensor_type_name(static_cast<std::uint32_t>(t));
    }
  }
}

TEST(Fp16, RoundTripsAndRoundsToNearestEven) {
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const float f = fp16_to_float(static_cast<std::uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(float_to_fp16(f), h) << h;
  }
  EXPECT_EQ(fp16_to_float(0x3C00), 1.0f);
  EXPECT_EQ(float_to_fp16(1.0f + 1.0f / 2048), 0x3C00);  // tie -> even
  EXPECT_EQ(float_to_fp16(1e6f), 0x7C00);                // overflow -> inf
  EXPECT_EQ(fp16_to_float(0x0001), std::ldexp(1.0f, -24));
}

// The vector conversions (F16C where the CPU has it, scalar tails) give the scalar ones' bits
// on every fp16 value, at an odd offset so the scalar tail runs too.
TEST(Fp16, VectorConversionsEqualTheScalarOnes) {
  std::vector<std::uint16_t> h(0x10000 + 3);
  for (std::uint32_t i = 0; i < 0x10000; ++i) h[i + 3] = static_cast<std::uint16_t>(i);
  std::vector<float> f(h.size());
  fp16_to_floats(h.data() + 3, 0x10000, f.data() + 3);
  for (std::uint32_t i = 0; i < 0x10000; ++i) {
    const float want = fp16_to_float(static_cast<std::uint16_t>(i));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(f[i + 3])) << i;
      continue;
    }
    std::uint32_t a, b;
    std::memcpy(&a, &f[i + 3], 4);
    std::memcpy(&b, &want, 4);
    EXPECT_EQ(a, b) << i;
  }
  std::mt19937 rng(5);
  std::vector<float> x(1003);
  std::uniform_real_distribution<float> u(-70000.0f, 70000.0f);
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = i % 3 == 0 ? u(rng) : u(rng) * 1e-6f;  // normals, subnormals, overflow to inf
  std::vector<std::uint16_t> y(x.size());
  floats_to_fp16(x.data(), x.size(), y.data());
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(y[i], float_to_fp16(x[i])) << x[i];
}

// GELU-tanh gating (Gemma) against the double reference: eight at a time through libmvec's
// tanhf, the rest scalar; inputs across both tails of tanh and around 0.
TEST(Ops, GegluMatchesReference) {
  std::mt19937 rng(6);
  for (const int n : {1, 7, 8, 37, 2048}) {
    auto g1 = random_vec(static_cast<std::size_t>(n), rng, 6.0f), g2 = g1;
    const auto up = random_vec(static_cast<std::size_t>(n), rng);
    geglu(g1.data(), up.data(), g1.size());
    geglu_reference(g2.data(), up.data(), g2.size());
    for (int i = 0; i < n; ++i) EXPECT_NEAR(g1[i], g2[i], 1e-5 * (1 + std::fabs(g2[i]))) << i;
  }
}

TEST(Ops, RmsnormAndSwigluMatchReferences) {
  std::mt19937 rng(5);
  for (const int n : {1, 7, 64, 577}) {
    const auto x = random_vec(static_cast<std::size_t>(n), rng, 3.0f),
               w = random_vec(static_cast<std::size_t>(n), rng);
    std::vector<float> a(static_cast<std::size_t>(n)), b(static_cast<std::size_t>(n));
    rmsnorm(x.data(), w.data(), n, 1e-5f, a.data());
    rmsnorm_reference(x.data(), w.data(), n, 1e-5f, b.data());
    for (int i = 0; i < n; ++i) EXPECT_NEAR(a[i], b[i], 1e-5 * (1 + std::fabs(b[i])));
    auto g1 = random_vec(static_cast<std::size_t>(n), rng, 4.0f), g2 = g1;
    const auto up = random_vec(static_cast<std::size_t>(n), rng);
    swiglu(g1.data(), up.data(), g1.size());
    swiglu_reference(g2.data(), up.data(), g2.size());
    for (int i = 0; i < n; ++i) EXPECT_NEAR(g1[i], g2[i], 1e-5 * (1 + std::fabs(g2[i])));
  }
}

TEST(Attention, FastMatchesReferenceWithGqaCausalAndSpans) {
  std::mt19937 rng(11);
  for (const auto& [n_head, n_kv, hd, n_rows, n_q] :
       {std::tuple{9, 3, 64, 37, 5}, {8, 4, 8, 1, 1}, {4, 4, 16, 20, 20}, {6, 2, 24, 50, 1}}) {
    SCOPED_TRACE(testing::Message()
                 << n_head << "/" << n_kv << " hd=" << hd << " rows=" << n_rows << " q=" << n_q);
    const int kvd = n_kv * hd;
    const auto k = random_vec(static_cast<std::size_t>(n_rows) * kvd, rng),
               v = random_vec(static_cast<std::size_t>(n_rows) * kvd, rng);
    const auto q = random_vec(static_cast<std::size_t>(n_q) * n_head * hd, rng);
    KvView view;  // split the rows into two spans to exercise span walking
    const int cut = n_rows / 3;
    if (cut > 0)
      view.spans.push_back(
          {k.data(), v.data(), cut, static_cast<std::size_t>(kvd), static_cast<std::size_t>(kvd)});
    view.spans.push_back({k.data() + static_cast<std::size_t>(cut) * kvd,
                          v.data() + static_cast<std::size_t>(cut) * kvd, n_rows - cut,
                          static_cast<std::size_t>(kvd), static_cast<std::size_t>(kvd)});
    const AttentionShape s{n_head, n_kv, hd, 1.0f / std::sqrt(static_cast<float>(hd))};
    std::vector<float> out(q.size()), ref(q.size()), w1(static_cast<std::size_t>(n_rows)),
        w2(w1.size());
    attention(s, q.data(), n_q, view, out.data(), w1.data());
    attention_reference(s, q.data(), n_q, view, ref.data(), w2.data());
    for (std::size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out[i], ref[i], 1e-4);
    double total = 0;
    for (std::size_t j = 0; j < w1.size(); ++j) {
      EXPECT_NEAR(w1[j], w2[j], 1e-4);
      total += w1[j];
    }
    EXPECT_NEAR(total, n_head * n_q, 1e-3);  // each (head, query) distributes weight 1
    // Causality: the last row is seen only by the last query.
    if (n_q > 1) {
      EXPECT_GT(w1.back(), 0.0f);
    }
  }
}

// An fp16 KV view on the float-weights path (the one llama.cpp's f16 cache without flash
// attention matches: widened to floats per call, in storage kept per thread between calls):
// views of changing sizes one after another, each against the reference.
TEST(Attention, F16ViewsOfChangingSizesMatchTheReference) {
  std::mt19937 rng(17);
  const int n_head = 4, n_kv = 1, hd = 40, kvd = n_kv * hd;
  for (const auto& [n_rows, n_q] : {std::pair{300, 1}, {7, 3}, {513, 1}, {33, 33}, {1, 1}}) {
    SCOPED_TRACE(testing::Message() << "rows=" << n_rows << " q=" << n_q);
    auto k = random_vec(static_cast<std::size_t>(n_rows) * kvd, rng),
         v = random_vec(static_cast<std::size_t>(n_rows) * kvd, rng);
    std::vector<std::uint16_t> k16(k.size()), v16(v.size());
    floats_to_fp16(k.data(), k.size(), k16.data());
    floats_to_fp16(v.data(), v.size(), v16.data());
    const auto q = random_vec(static_cast<std::size_t>(n_q) * n_head * hd, rng);
    KvView view;
    view.elem = KvElem::kF16;
    KvSpan sp;
    sp.n = n_rows;
    sp.k_stride = sp.v_stride = static_cast<std::size_t>(kvd);
    sp.k16 = k16.data();
    sp.v16 = v16.data();
    view.spans.push_back(sp);
    AttentionShape s{n_head, n_kv, hd, 1.0f / std::sqrt(static_cast<float>(hd))};
    s.f16_weights = true;
    std::vector<float> out(q.size()), ref(q.size());
    attention(s, q.data(), n_q, view, out.data());
    attention_reference(s, q.data(), n_q, view, ref.data());
    for (std::size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out[i], ref[i], 1e-4) << i;
  }
}

// Gemma 2's soft-capping: scores s -> c * tanh(s / c) before the softmax. One head over two
// rows by hand (scores +-10 capped at c = 5), then the fast kernel against the reference with
// GQA and large scores (most beyond the cap, so capping changes the output).
TEST(Attention, SoftCapMatchesHandComputedAndReference) {
  {
    const float q = 10.0f, k[2] = {1.0f, -1.0f}, v[2] = {2.0f, -3.0f};
    KvView view;
    view.spans.push_back({k, v, 2, 1, 1});
    AttentionShape s{1, 1, 1, 1.0f};
    s.softcap = 5.0f;
    float out = 0;
    attention(s, &q, 1, view, &out);
    const double capped = 5.0 * std::tanh(2.0), w0 = 1.0 / (1.0 + std::exp(-2.0 * capped));
    EXPECT_NEAR(out, w0 * 2.0 + (1.0 - w0) * -3.0, 1e-5);
  }
  std::mt19937 rng(17);
  const int n_head = 8, n_kv = 2, hd = 32, n_rows = 40, n_q = 6, kvd = n_kv * hd;
  const auto k = random_vec(static_cast<std::size_t>(n_rows) * kvd, rng, 4.0f),
             v = random_vec(static_cast<std::size_t>(n_rows) * kvd, rng);
  const auto q = random_vec(static_cast<std::size_t>(n_q) * n_head * hd, rng, 4.0f);
  KvView view;
  view.spans.push_back(
      {k.data(), v.data(), n_rows, static_cast<std::size_t>(kvd), static_cast<std::size_t>(kvd)});
  AttentionShape s{n_head, n_kv, hd, 1.0f / std::sqrt(static_cast<float>(hd))};
  std::vector<float> plain(q.size()), out(q.size()), ref(q.size());
  attention(s, q.data(), n_q, view, plain.data());
  s.softcap = 3.0f;
  attention(s, q.data(), n_q, view, out.data());
  attention_reference(s, q.data(), n_q, view, ref.data());
  double moved = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_NEAR(out[i], ref[i], 1e-4);
    moved = std::max(moved, static_cast<double>(std::fabs(out[i] - plain[i])));
  }
  EXPECT_GT(moved, 0.1);
}

// Without row weights attention takes the tiled online-softmax kernel: token tiles of 16,
// row tiles of 64 and, in decode on several threads, row splits merged after. Awkward sizes
// cross every tile edge; NaN-poisoned outputs catch any value left unwritten.
TEST(Attention, TiledMatchesReferenceAcrossTilesAndSplits) {
  std::mt19937 rng(12);
  for (const int threads : {1, 3}) {
    ThreadScope scope(threads);
    for (const auto& [n_head, n_kv, hd, n_rows, n_q] : {std::tuple{9, 3, 64, 700, 1},
                                                        {9, 3, 64, 1100, 1},
                                                        {8, 2, 24, 130, 37},
                                                        {5, 1, 8, 65, 65},
                                                        {4, 4, 16, 64, 17},
                                                        {6, 2, 40, 1030, 3},
                                                        {10, 2, 64, 1, 1}}) {
      SCOPED_TRACE(testing::Message() << threads << " threads " << n_head << "/" << n_kv
                                      << " hd=" << hd << " rows=" << n_rows << " q=" << n_q);
      const int kvd = n_kv * hd;
      const auto k = random_vec(static_cast<std::size_t>(n_rows) * kvd, rng, 2.0f),
                 v = random_vec(static_cast<std::size_t>(n_rows) * kvd, rng);
      const auto q = random_vec(static_cast<std::size_t>(n_q) * n_head * hd, rng, 2.0f);
      KvView view;
      const int cut = n_rows / 3;
      if (cut > 0)
        view.spans.push_back({k.data(), v.data(), cut, static_cast<std::size_t>(kvd),
                              static_cast<std::size_t>(kvd)});
      view.spans.push_back({k.data() + static_cast<std::size_t>(cut) * kvd,
                            v.data() + static_cast<std::size_t>(cut) * kvd, n_rows - cut,
                            static_cast<std::size_t>(kvd), static_cast<std::size_t>(kvd)});
      const AttentionShape s{n_head, n_kv, hd, 1.0f / std::sqrt(static_cast<float>(hd))};
      // The same rows in fp16, read in place by the tiled kernel; the reference widens them.
      std::vector<std::uint16_t> k16(k.size()), v16(v.size());
      floats_to_fp16(k.data(), k.size(), k16.data());
      floats_to_fp16(v.data(), v.size(), v16.data());
      KvView half;
      half.elem = KvElem::kF16;
      for (const auto& sp : view.spans) {
        KvSpan h = sp;
        h.k16 = k16.data() + (sp.k - k.data());
        h.v16 = v16.data() + (sp.v - v.data());
        h.k = h.v = nullptr;
        half.spans.push_back(h);
      }
      for (const KvView* vw : {&view, &half}) {
        std::vector<float> out(q.size(), std::nanf("")), ref(q.size());
        attention(s, q.data(), n_q, *vw, out.data());
        attention_reference(s, q.data(), n_q, *vw, ref.data());
        double worst = 0;
        for (std::size_t i = 0; i < out.size(); ++i)
          worst = std::max(worst, std::fabs(static_cast<double>(out[i]) - ref[i]));
        EXPECT_LE(worst, 2e-5) << (vw == &half ? "f16" : "f32");  // NaN fails too
      }
      // fp16 rows with row weights (H2O) go through the per-token kernel, widened.
      std::vector<float> out(q.size()), ref(q.size()), w1(static_cast<std::size_t>(n_rows)),
          w2(w1.size());
      attention(s, q.data(), n_q, half, out.data(), w1.data());
      attention_reference(s, q.data(), n_q, half, ref.data(), w2.data());
      for (std::size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out[i], ref[i], 1e-4);
      for (std::size_t j = 0; j < w1.size(); ++j) EXPECT_NEAR(w1[j], w2[j], 1e-4);
    }
  }
}

// A batch of sequences' attention in one parallel region (tiled f32, tiled f16 and the f16
// weights path; 1 and 3 threads; sequences of awkward lengths, one or several new tokens)
// equals the reference per sequence; NaN-poisoned outputs catch any value left unwritten.
TEST(Attention, ManyTasksMatchTheReferencePerTask) {
  std::mt19937 rng(13);
  const int n_head = 9, n_kv = 3, hd = 64, kvd = n_kv * hd;
  const int rows[] = {1, 17, 64, 65, 300, 1030, 5};
  const int new_tokens[] = {1, 1, 1, 3, 1, 1, 5};
  constexpr int kTasks = 7;
  std::vector<std::vector<float>> k, v, q;
  std::vector<std::vector<std::uint16_t>> k16, v16;
  std::vector<KvView> f32_views, f16_views;
  for (int t = 0; t < kTasks; ++t) {
    k.push_back(random_vec(static_cast<std::size_t>(rows[t]) * kvd, rng, 2.0f));
    v.push_back(random_vec(static_cast<std::size_t>(rows[t]) * kvd, rng));
    q.push_back(random_vec(static_cast<std::size_t>(new_tokens[t]) * n_head * hd, rng, 2.0f));
    k16.emplace_back(k.back().size());
    v16.emplace_back(v.back().size());
    floats_to_fp16(k.back().data(), k.back().size(), k16.back().data());
    floats_to_fp16(v.back().data(), v.back().size(), v16.back().data());
  }
  for (int t = 0; t < kTasks; ++t) {
    KvView a, h;
    a.spans.push_back({k[t].data(), v[t].data(), rows[t], static_cast<std::size_t>(kvd),
                       static_cast<std::size_t>(kvd)});
    h.elem = KvElem::kF16;
    KvSpan hs{nullptr, nullptr, rows[t], static_cast<std::size_t>(kvd),
              static_cast<std::size_t>(kvd)};
    hs.k16 = k16[t].data();
    hs.v16 = v16[t].data();
    h.spans.push_back(hs);
    f32_views.push_back(a);
    f16_views.push_back(h);
  }
  for (const int threads : {1, 3}) {
    ThreadScope scope(threads);
    for (const bool f16_weights : {false, true}) {
      for (const auto* views : {&f32_views, &f16_views}) {
        SCOPED_TRACE(testing::Message() << threads << " threads, f16 weights " << f16_weights
                                        << (views == &f16_views ? ", f16 rows" : ", f32 rows"));
        AttentionShape s{n_head, n_kv, hd, 1.0f / std::sqrt(static_cast<float>(hd))};
        s.f16_weights = f16_weights;
        std::vector<std::vector<float>> out;
        std::vector<AttentionTask> tasks;
        for (int t = 0; t < kTasks; ++t) out.emplace_back(q[t].size(), std::nanf(""));
        for (int t = 0; t < kTasks; ++t)
          tasks.push_back({q[t].data(), new_tokens[t], &(*views)[t], out[t].data()});
        attention_many(s, tasks);
        for (int t = 0; t < kTasks; ++t) {
          std::vector<float> ref(q[t].size());
          attention_reference(s, q[t].data(), new_tokens[t], (*views)[t], ref.data());
          double worst = 0;
          for (std::size_t i = 0; i < ref.size(); ++i)
            worst = std::max(worst, std::fabs(static_cast<double>(out[t][i]) - ref[i]));
          EXPECT_LE(worst, f16_weights ? 2e-3 : 2e-5) << "task " << t;  // NaN fails too
        }
      }
    }
  }
}

TEST(Rope, RotationIsInvertibleAndPreservesNorm) {
  ModelConfig c;
  c.head_dim = 16;
  c.n_rot = 12;
  c.rope_theta = 10000.0f;
  for (const RopePairing pairing : {RopePairing::kNormal, RopePairing::kNeox}) {
    c.rope_pairing = pairing;
    const RopeSpec spec = default_rope(c);
    std::mt19937 rng(1);
    const auto x0 = random_vec(32, rng);
    auto x = x0;
    apply_rope(spec, x.data(), 2, 1234);
    double n0 = 0, n1 = 0;
    for (std::size_t i = 0; i < x.size(); ++i) n0 += x0[i] * x0[i], n1 += x[i] * x[i];
    EXPECT_NEAR(n0, n1, 1e-3);
    EXPECT_EQ(x[14], x0[14]);  // dims past n_rot pass through
    apply_rope(spec, x.data(), 2, -1234);
    for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], x0[i], 1e-4);
    // Shifting by a delta equals rotating at the summed position.
    auto a = x0, b = x0;
    apply_rope(spec, a.data(), 2, 100);
    apply_rope(spec, a.data(), 2, 23);
    apply_rope(spec, b.data(), 2, 123);
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-4);
  }
  // Pairing: at position 1 with only the first pair rotating fast, normal mixes (0,1), NeoX (0,6).
  c.rope_pairing = RopePairing::kNormal;
  RopeSpec s = default_rope(c);
  std::vector<float> e(16, 0.0f);
  e[0] = 1;
  apply_rope(s, e.data(), 1, 1);
  EXPECT_NEAR(e[1], std::sin(1.0f), 1e-6);
  c.rope_pairing = RopePairing::kNeox;
  s = default_rope(c);
  std::fill(e.begin(), e.end(), 0.0f);
  e[0] = 1;
  apply_rope(s, e.data(), 1, 1);
  EXPECT_NEAR(e[6], std::sin(1.0f), 1e-6);
  EXPECT_EQ(e[1], 0.0f);
}

}  // namespace
}  // namespace gearbox::serve
