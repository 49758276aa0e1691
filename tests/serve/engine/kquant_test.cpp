// K-quants (Q4_K, Q6_K): the documented bit layout on hand-made blocks, quantize/dequantize
// round trips, and the matrix kernels against the dequantize-then-multiply reference on
// random inputs of awkward sizes.
#include <gtest/gtest.h>

#include <cmath>
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
        WeightMatrix w;
        w.type = type;
        w.rows = rows;
        w.cols = cols;
        w.row_bytes = tensor_bytes(type, static_cast<std::size_t>(cols));
        std::vector<std::uint8_t> bytes(w.row_bytes * static_cast<std::size_t>(rows));
        for (int r = 0; r < rows; ++r)
          quantize_row(type, f.data() + static_cast<std::size_t>(r) * cols,
                       bytes.data() + w.row_bytes * static_cast<std::size_t>(r), cols);
        w.data = bytes.data();
        const auto x = random_vec(static_cast<std::size_t>(n) * cols, rng);
        std::vector<float> fast(static_cast<std::size_t>(n) * rows), ref(fast.size());
        Activations a(x.data(), n, cols);
        matmul(w, a, fast.data());
        matmul_reference(w, x.data(), n, ref.data());
        for (std::size_t i = 0; i < fast.size(); ++i)
          EXPECT_NEAR(fast[i], ref[i], 1e-4 * (1 + std::fabs(ref[i])) + 1e-5 * cols) << i;
      }
}

// A batched K-quant product unpacks each weight row once for every activation row; each
// result equals the one-row product (n = 1) bit for bit.
TEST(KQuant, BatchedProductEqualsOneRowProducts) {
  std::mt19937 rng(21);
  for (const TensorType type : {TensorType::kQ4_K, TensorType::kQ6_K})
    for (const int threads : {1, 2}) {
      SCOPED_TRACE(testing::Message()
                   << tensor_type_name(static_cast<std::uint32_t>(type)) << " threads=" << threads);
      ThreadScope scope(threads);
      const int rows = 35, cols = 768, n = 7;
      const auto f = random_vec(static_cast<std::size_t>(rows) * cols, rng);
      WeightMatrix w;
      w.type = type;
      w.rows = rows;
      w.cols = cols;
      w.row_bytes = tensor_bytes(type, static_cast<std::size_t>(cols));
      std::vector<std::uint8_t> bytes(w.row_bytes * static_cast<std::size_t>(rows));
      for (int r = 0; r < rows; ++r)
        quantize_row(type, f.data() + static_cast<std::size_t>(r) * cols,
                     bytes.data() + w.row_bytes * static_cast<std::size_t>(r), cols);
      w.data = bytes.data();
      const auto x = random_vec(static_cast<std::size_t>(n) * cols, rng);
      std::vector<float> batched(static_cast<std::size_t>(n) * rows);
      Activations a(x.data(), n, cols);
      matmul(w, a, batched.data());
      for (int t = 0; t < n; ++t) {
        std::vector<float> one(static_cast<std::size_t>(rows));
        Activations b(x.data() + static_cast<std::size_t>(t) * cols, 1, cols);
        matmul(w, b, one.data());
        for (int r = 0; r < rows; ++r)
          EXPECT_EQ(batched[static_cast<std::size_t>(t) * rows + r],
                    one[static_cast<std::size_t>(r)])
              << "t=" << t << " r=" << r;
      }
    }
}

}  // namespace
}  // namespace gearbox::serve
