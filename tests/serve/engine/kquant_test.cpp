// K-quants (Q4_K, Q6_K): the documented bit layout on hand-made blocks, quantize/dequantize
// round trips, Q8_K activations as llama.cpp rounds them, the integer Q4_K/Q6_K x Q8_K dots
// against their scalar references, and the matrix kernels against the references on random
// inputs of awkward sizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "gearbox/core/threads.hpp"
#include "gearbox/serve/gguf/tensor_type.hpp"
#include "gearbox/serve/kernels/fp16.hpp"
#include "gearbox/serve/kernels/kquant.hpp"
#include "gearbox/serve/kernels/matmul.hpp"

namespace gearbox::serve {
namespace {

std::vector<float> random_vec(std::size_t n, std::mt19937& rng) {
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// A rows x cols matrix of `type` quantized row by row from the floats f (row-major), with
// the bytes its WeightMatrix points to (a moved QuantizedMatrix keeps them in place).
struct QuantizedMatrix {
  std::vector<std::uint8_t> bytes;
  WeightMatrix w;
};

QuantizedMatrix quantize_matrix(TensorType type, int rows, int cols, const std::vector<float>& f) {
  QuantizedMatrix q;
  q.w.type = type;
  q.w.rows = rows;
  q.w.cols = cols;
  q.w.row_bytes = tensor_bytes(type, static_cast<std::size_t>(cols));
  q.bytes.resize(q.w.row_bytes * static_cast<std::size_t>(rows));
  for (int r = 0; r < rows; ++r)
    quantize_row(type, f.data() + static_cast<std::size_t>(r) * cols,
                 q.bytes.data() + q.w.row_bytes * static_cast<std::size_t>(r), cols);
  q.w.data = q.bytes.data();
  return q;
}

TEST(KQuant, TypeGeometry) {
  EXPECT_EQ(tensor_bytes(TensorType::kQ4_K, 512), 2 * kQ4KBytes);
  EXPECT_EQ(tensor_bytes(TensorType::kQ6_K, 256), kQ6KBytes);
}

// A Q4_K block written by hand from the layout: sub-block 5's scale (45 = 0b101101) and min
// (58 = 0b111010) have their top 2 bits in bytes 1 and 5 and their low nibbles in byte 9;
// sub-block 1's scale/min are plain 6-bit values in bytes 1 and 5.
TEST(KQuant, Q4KLayoutOfAHandMadeBlock) {
  std::vector<std::uint8_t> b(kQ4KBytes, 0);
  store_u16(b.data(), float_to_fp16(0.5f));       // d
  store_u16(b.data() + 2, float_to_fp16(0.25f));  // dmin
  std::uint8_t* s = b.data() + 4;
  const int sc1 = 7, m1 = 3, sc5 = 45, m5 = 58;
  s[1] = static_cast<std::uint8_t>(sc1 | ((sc5 >> 4) << 6));
  s[5] = static_cast<std::uint8_t>(m1 | ((m5 >> 4) << 6));
  s[9] = static_cast<std::uint8_t>((sc5 & 0xF) | ((m5 & 0xF) << 4));
  std::uint8_t* q = b.data() + 16;
  q[3] = 0x90;        // value 3 (sub-block 0, low nibble 0), value 35 (sub-block 1, 9)
  q[64 + 10] = 0xC;   // chunk 2 (values 128..191): value 138, sub-block 4 (scale 0): low nibble
  q[64 + 11] = 0xD0;  // value 128 + 32 + 11 = 171, sub-block 5, nibble 13
  std::vector<float> x(kQkK);
  dequantize_row_q4_k(b.data(), x.data(), kQkK);
  EXPECT_FLOAT_EQ(x[35], 0.5f * sc1 * 9 - 0.25f * m1);
  EXPECT_FLOAT_EQ(x[32], -0.25f * m1);  // sub-block 1, nibble 0
  EXPECT_FLOAT_EQ(x[171], 0.5f * sc5 * 13 - 0.25f * m5);
  EXPECT_FLOAT_EQ(x[160], -0.25f * m5);  // sub-block 5, nibble 0
  EXPECT_FLOAT_EQ(x[3], 0.0f);           // sub-block 0: scale and min 0
  EXPECT_FLOAT_EQ(x[138], 0.0f);         // sub-block 4: scale and min 0 (top bits 0)
}

// A Q6_K block by hand: value 97 (first half, l = 1, k = 3) takes the high nibble of
// ql[33] and bits 6..7 of qh[1], and scale 6; value 128 + 40 (second half, l = 8, k = 1)
// takes the low nibble of ql[64 + 40] and bits 2..3 of qh[32 + 8], and scale 8 + 2.
TEST(KQuant, Q6KLayoutOfAHandMadeBlock) {
  std::vector<std::uint8_t> b(kQ6KBytes, 0);
  for (int i = 0; i < 16; ++i)
    b[192 + i] = static_cast<std::uint8_t>(static_cast<std::int8_t>(i - 8));
  store_u16(b.data() + 208, float_to_fp16(0.125f));
  b[33] = 0x50;                // q low bits 5 for value 97
  b[128 + 1] = 0x3 << 6;       // q high bits 3: q = 53
  b[64 + 40] = 0x0A;           // value 168: low bits 10
  b[128 + 32 + 8] = 0x1 << 2;  // high bits 1: q = 26
  std::vector<float> x(kQkK);
  dequantize_row_q6_k(b.data(), x.data(), kQkK);
  EXPECT_FLOAT_EQ(x[97], 0.125f * (6 - 8) * (53 - 32));
  EXPECT_FLOAT_EQ(x[168], 0.125f * (10 - 8) * (26 - 32));
  EXPECT_FLOAT_EQ(x[0], 0.125f * (0 - 8) * (0 - 32));  // all other bits 0: q = 0
  EXPECT_FLOAT_EQ(x[255], 0.125f * (15 - 8) * (0 - 32));
}

TEST(KQuant, RoundTripsWithinTheGrid) {
  std::mt19937 rng(5);
  for (const TensorType type : {TensorType::kQ4_K, TensorType::kQ6_K})
    for (const int n : {256, 768}) {
      SCOPED_TRACE(testing::Message()
                   << tensor_type_name(static_cast<std::uint32_t>(type)) << " n=" << n);
      auto x = random_vec(static_cast<std::size_t>(n), rng);
      for (int i = 0; i < 16; ++i) x[static_cast<std::size_t>(i)] *= 0.01f;  // a tiny sub-block
      std::vector<std::uint8_t> q(tensor_bytes(type, static_cast<std::size_t>(n)));
      std::vector<float> back(static_cast<std::size_t>(n));
      quantize_row(type, x.data(), q.data(), n);
      dequantize_row(type, q.data(), back.data(), n);
      double err2 = 0, x2 = 0, amax = 0;
      for (int i = 0; i < n; ++i) {
        const double e = back[static_cast<std::size_t>(i)] - x[static_cast<std::size_t>(i)];
        err2 += e * e;
        x2 += static_cast<double>(x[static_cast<std::size_t>(i)]) * x[static_cast<std::size_t>(i)];
        amax = std::max(amax, std::fabs(static_cast<double>(x[static_cast<std::size_t>(i)])));
      }
      for (int i = 0; i < n; ++i)  // never more than a few steps of the coarsest grid
        EXPECT_NEAR(back[static_cast<std::size_t>(i)], x[static_cast<std::size_t>(i)],
                    (type == TensorType::kQ4_K ? 0.2 : 0.06) * amax)
            << i;
      EXPECT_LT(std::sqrt(err2 / x2), type == TensorType::kQ4_K ? 0.12 : 0.03);
    }
}

TEST(KQuant, MatmulMatchesReferenceOnAwkwardSizes) {
  std::mt19937 rng(9);
  for (const TensorType type : {TensorType::kQ4_K, TensorType::kQ6_K})
    for (const int threads : {1, 2})
      for (const auto& [rows, cols, n] :
           {std::tuple{37, 256, 1}, {5, 768, 3}, {1, 512, 2}, {19, 256, 5}}) {
        SCOPED_TRACE(testing::Message()
                     << tensor_type_name(static_cast<std::uint32_t>(type)) << " " << rows << "x"
                     << cols << " n=" << n << " threads=" << threads);
        ThreadScope scope(threads);
        const auto f = random_vec(static_cast<std::size_t>(rows) * cols, rng);
        const QuantizedMatrix q = quantize_matrix(type, rows, cols, f);
        const WeightMatrix& w = q.w;
        const auto x = random_vec(static_cast<std::size_t>(n) * cols, rng);
        std::vector<float> fast(static_cast<std::size_t>(n) * rows), ref(fast.size());
        Activations a(x.data(), n, cols);
        matmul(w, a, fast.data());
        matmul_reference(w, x.data(), n, ref.data());
        std::vector<float> ref8(fast.size());
        matmul_reference_q8(w, x.data(), n, ref8.data());
        double norm = 0;
        for (float v : ref) norm = std::max(norm, static_cast<double>(std::fabs(v)));
        for (std::size_t i = 0; i < fast.size(); ++i) {
          if (n == 1) {
            // One row: Q8_K activations, the scalar reference of that integer arithmetic up
            // to the order of the float sums; against float activations, each 8-bit value is
            // off by up to half a step (max|x| / 254), a random walk over the cols products.
            EXPECT_NEAR(fast[i], ref8[i], 1e-4 * (1 + std::fabs(ref8[i])) + 1e-5 * cols) << i;
            EXPECT_NEAR(fast[i], ref[i], 0.02 * norm + 0.03 * std::sqrt(cols)) << i;
          } else {
            // Batched: float activations.
            EXPECT_NEAR(fast[i], ref[i], 1e-4 * (1 + std::fabs(ref[i])) + 1e-5 * cols) << i;
          }
        }
      }
}

// Q8_K as llama.cpp's quantize_row_q8_K_ref: the signed value of largest magnitude becomes
// -127 (d = max / -127, negative for a positive max), others round half to even, nothing above
// 127, bsums are the sums of each 16 quants; an all-zero block is all zero.
TEST(KQuant, Q8KQuantizesAsLlamaCpp) {
  std::vector<float> x(512, 0.0f);
  // Multiples of 1/64 with the largest 127/64, so that 1/d = -64 exactly.
  x[0] = 127.0f / 64;   // largest magnitude, positive: d = -1/64
  x[1] = -125.0f / 64;  // 125
  x[2] = 0.5f / 64;     // -0.5: half to even, 0
  x[3] = 1.5f / 64;     // -1.5: half to even, -2
  x[4] = -2.5f / 64;    // 2.5: half to even, 2 (half away from zero would give 3)
  x[17] = -5.0f / 64;   // 5, in the second group of 16
  std::vector<std::uint8_t> q(2 * kQ8KBytes, 0xAB);
  quantize_row_q8_k(x.data(), q.data(), 512);
  float d;
  std::memcpy(&d, q.data(), 4);
  EXPECT_EQ(d, -1.0f / 64);
  const auto qv = [&](int b, int j) { return static_cast<std::int8_t>(q[b * kQ8KBytes + 4 + j]); };
  const auto bsum = [&](int b, int i) {
    std::int16_t s;
    std::memcpy(&s, q.data() + b * kQ8KBytes + 260 + 2 * i, 2);
    return s;
  };
  EXPECT_EQ(qv(0, 0), -127);
  EXPECT_EQ(qv(0, 1), 125);
  EXPECT_EQ(qv(0, 2), 0);
  EXPECT_EQ(qv(0, 3), -2);
  EXPECT_EQ(qv(0, 4), 2);
  EXPECT_EQ(qv(0, 17), 5);
  EXPECT_EQ(bsum(0, 0), -127 + 125 - 2 + 2);
  EXPECT_EQ(bsum(0, 1), 5);
  for (int i = 2; i < 16; ++i) EXPECT_EQ(bsum(0, i), 0);
  std::memcpy(&d, q.data() + kQ8KBytes, 4);
  EXPECT_EQ(d, 0.0f);  // the second block is all zero
  for (int j = 0; j < 256; ++j) EXPECT_EQ(qv(1, j), 0);
  // A negative largest value: d > 0 and it maps to -127 too.
  std::vector<float> y(256, 0.5f);
  y[100] = -1.27f;
  quantize_row_q8_k(y.data(), q.data(), 256);
  std::memcpy(&d, q.data(), 4);
  EXPECT_FLOAT_EQ(d, 0.01f);
  EXPECT_EQ(qv(0, 100), -127);
  EXPECT_EQ(qv(0, 0), 50);
}

// The integer Q4_K/Q6_K x Q8_K products equal the scalar references on one super-block row
// of hand-checkable size and on rows of many blocks, and are close to float activations.
TEST(KQuant, IntegerDotsMatchScalarReferences) {
  std::mt19937 rng(33);
  for (const TensorType type : {TensorType::kQ4_K, TensorType::kQ6_K})
    for (const int cols : {256, 1280, 2304}) {
      SCOPED_TRACE(testing::Message()
                   << tensor_type_name(static_cast<std::uint32_t>(type)) << " cols=" << cols);
      const auto f = random_vec(static_cast<std::size_t>(cols), rng);
      std::vector<std::uint8_t> wq(tensor_bytes(type, static_cast<std::size_t>(cols)));
      quantize_row(type, f.data(), wq.data(), cols);
      auto x = random_vec(static_cast<std::size_t>(cols), rng);
      x[5] = 40.0f;  // an outlier, as Gemma's MLP activations have
      std::vector<std::uint8_t> xq(static_cast<std::size_t>(cols / kQkK) * kQ8KBytes);
      quantize_row_q8_k(x.data(), xq.data(), cols);
      const float ref = type == TensorType::kQ4_K
                            ? dot_q4_k_q8_k_scalar(wq.data(), xq.data(), cols)
                            : dot_q6_k_q8_k_scalar(wq.data(), xq.data(), cols);
      // The same product with the weights dequantized and the Q8_K values as floats, in double.
      std::vector<float> wf(static_cast<std::size_t>(cols));
      dequantize_row(type, wq.data(), wf.data(), cols);
      double exact = 0;
      for (int b = 0; b < cols / kQkK; ++b) {
        float d;
        std::memcpy(&d, xq.data() + b * kQ8KBytes, 4);
        for (int j = 0; j < kQkK; ++j)
          exact += static_cast<double>(wf[static_cast<std::size_t>(b * kQkK + j)]) * d *
                   static_cast<std::int8_t>(xq[b * kQ8KBytes + 4 + j]);
      }
      EXPECT_NEAR(ref, exact, 1e-4 * (1 + std::fabs(exact)));
      WeightMatrix w;
      w.type = type;
      w.rows = 1;
      w.cols = cols;
      w.row_bytes = wq.size();
      w.data = wq.data();
      float fast = 0;
      Activations a(x.data(), 1, cols);
      matmul(w, a, &fast);
      EXPECT_NEAR(fast, ref, 1e-4 * (1 + std::fabs(ref)));
    }
}

// A batched K-quant product unpacks each weight row once for every activation row; each
// result equals the float one-row product (dot_q*_k_f32) bit for bit.
TEST(KQuant, BatchedProductEqualsOneRowFloatProducts) {
  std::mt19937 rng(21);
  for (const TensorType type : {TensorType::kQ4_K, TensorType::kQ6_K})
    for (const int threads : {1, 2}) {
      SCOPED_TRACE(testing::Message()
                   << tensor_type_name(static_cast<std::uint32_t>(type)) << " threads=" << threads);
      ThreadScope scope(threads);
      const int rows = 35, cols = 768, n = 7;
      const auto f = random_vec(static_cast<std::size_t>(rows) * cols, rng);
      const QuantizedMatrix q = quantize_matrix(type, rows, cols, f);
      const WeightMatrix& w = q.w;
      const std::vector<std::uint8_t>& bytes = q.bytes;
      const auto x = random_vec(static_cast<std::size_t>(n) * cols, rng);
      std::vector<float> batched(static_cast<std::size_t>(n) * rows);
      Activations a(x.data(), n, cols);
      matmul(w, a, batched.data());
      for (int t = 0; t < n; ++t)
        for (int r = 0; r < rows; ++r) {
          const std::uint8_t* wr = bytes.data() + w.row_bytes * static_cast<std::size_t>(r);
          const float* xt = x.data() + static_cast<std::size_t>(t) * cols;
          const float one =
              type == TensorType::kQ4_K ? dot_q4_k_f32(wr, xt, cols) : dot_q6_k_f32(wr, xt, cols);
          EXPECT_EQ(batched[static_cast<std::size_t>(t) * rows + r], one)
              << "t=" << t << " r=" << r;
        }
    }
}

}  // namespace
}  // namespace gearbox::serve
