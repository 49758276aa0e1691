// Batched products (prefill, perplexity): the sgemm path (weights dequantized a panel at a time,
// OpenBLAS's sgemm) against the float reference (dequantized weights, products summed in
// double) on random matrices of every weight type, sizes that are not multiples of the panel,
// 1..70 tokens, 1 and 2 threads; matmul / matmul_many taking that path from sgemm_min_rows()
// rows; and the quantized types' batched kernels (two activation rows per register where the
// CPU has AVX-512) equal to their one-row arithmetic bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <tuple>
#include <vector>

#include "gearbox/core/threads.hpp"
#include "gearbox/serve/gguf/tensor_type.hpp"
#include "gearbox/serve/kernels/fp16.hpp"
#include "gearbox/serve/kernels/kquant.hpp"
#include "gearbox/serve/kernels/matmul.hpp"

namespace gearbox::serve {
namespace {

// A block format's size, values per block, and the offsets of its fp16 scales (the other
// bytes are quants or packed integer scales: any byte is valid).
struct BlockFormat {
  TensorType type;
  std::size_t bytes;
  int values;
  std::vector<int> f16_at;
};

const std::vector<BlockFormat>& block_formats() {
  static const std::vector<BlockFormat> f = {
      {TensorType::kQ4_0, 18, 32, {0}},      {TensorType::kQ4_1, 20, 32, {0, 2}},
      {TensorType::kQ5_0, 22, 32, {0}},      {TensorType::kQ5_1, 24, 32, {0, 2}},
      {TensorType::kQ8_0, 34, 32, {0}},      {TensorType::kQ2_K, 84, 256, {80, 82}},
      {TensorType::kQ3_K, 110, 256, {108}},  {TensorType::kQ4_K, 144, 256, {0, 2}},
      {TensorType::kQ5_K, 176, 256, {0, 2}}, {TensorType::kQ6_K, 210, 256, {208}},
  };
  return f;
}

// A rows x cols matrix of `type` with random contents: random bytes with small random fp16
// scales for block formats, random values for F32/F16/BF16.
struct RandomMatrix {
  std::vector<std::uint8_t> bytes;
  WeightMatrix w;
};

RandomMatrix random_matrix(TensorType type, int rows, int cols, std::mt19937& rng) {
  RandomMatrix m;
  m.w.type = type;
  m.w.rows = rows;
  m.w.cols = cols;
  m.w.row_bytes = tensor_bytes(type, static_cast<std::size_t>(cols));
  m.bytes.resize(m.w.row_bytes * static_cast<std::size_t>(rows));
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f), scale(-0.05f, 0.05f);
  const std::size_t n = static_cast<std::size_t>(rows) * cols;
  if (type == TensorType::kF32) {
    for (std::size_t i = 0; i < n; ++i) {
      const float v = value(rng);
      std::memcpy(m.bytes.data() + 4 * i, &v, 4);
    }
  } else if (type == TensorType::kF16 || type == TensorType::kBF16) {
    for (std::size_t i = 0; i < n; ++i) {
      const float v = value(rng);
      std::uint32_t bits;
      std::memcpy(&bits, &v, 4);
      store_u16(m.bytes.data() + 2 * i, type == TensorType::kF16
                                            ? float_to_fp16(v)
                                            : static_cast<std::uint16_t>(bits >> 16));
    }
  } else {
    const BlockFormat* f = nullptr;
    for (const auto& b : block_formats())
      if (b.type == type) f = &b;
    EXPECT_NE(f, nullptr);
    for (auto& b : m.bytes) b = static_cast<std::uint8_t>(byte(rng));
    for (std::size_t blk = 0; blk < n / static_cast<std::size_t>(f->values); ++blk)
      for (const int at : f->f16_at)
        store_u16(m.bytes.data() + blk * f->bytes + at, float_to_fp16(scale(rng)));
  }
  m.w.data = m.bytes.data();
  return m;
}

std::vector<TensorType> all_types() {
  std::vector<TensorType> t = {TensorType::kF32, TensorType::kF16, TensorType::kBF16};
  for (const auto& b : block_formats()) t.push_back(b.type);
  return t;
}

TEST(MatmulSgemm, EqualsFloatReferenceOnAwkwardSizes) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> act(-2.0f, 2.0f);
  // (rows, cols, tokens): several panels with a short last one (2048 columns: 128-row panels),
  // more rows than one panel holds at 256 columns (1024), a single row, odd token counts.
  const std::tuple<int, int, int> sizes[] = {
      {150, 2048, 5}, {1100, 256, 3}, {1, 512, 17}, {45, 768, 70}, {37, 256, 1}};
  for (const TensorType type : all_types())
    for (const int threads : {1, 2})
      for (const auto& [rows, cols, n] : sizes) {
        SCOPED_TRACE(testing::Message()
                     << tensor_type_name(static_cast<std::uint32_t>(type)) << " " << rows << "x"
                     << cols << " n=" << n << " threads=" << threads);
        ThreadScope scope(threads);
        const RandomMatrix m = random_matrix(type, rows, cols, rng);
        std::vector<float> x(static_cast<std::size_t>(n) * cols);
        for (auto& v : x) v = act(rng);
        std::vector<float> fast(static_cast<std::size_t>(n) * rows, -1.0f), ref(fast.size());
        matmul_sgemm(m.w, x.data(), n, fast.data());
        matmul_reference(m.w, x.data(), n, ref.data());
        // Float sums of `cols` products against double ones: relative to sum |w x| of the row.
        std::vector<float> wrow(static_cast<std::size_t>(cols));
        for (int r = 0; r < rows; ++r) {
          dequantize_row(type, m.w.data + m.w.row_bytes * static_cast<std::size_t>(r), wrow.data(),
                         cols);
          for (int t = 0; t < n; ++t) {
            double mag = 0;
            for (int c = 0; c < cols; ++c)
              mag += std::fabs(static_cast<double>(wrow[static_cast<std::size_t>(c)]) *
                               x[static_cast<std::size_t>(t) * cols + c]);
            const std::size_t i = static_cast<std::size_t>(t) * rows + r;
            ASSERT_NEAR(fast[i], ref[i], 1e-5 * mag + 1e-30) << "t=" << t << " r=" << r;
          }
        }
      }
}

// matmul / matmul_many use the sgemm path for float weights (here F16 and F32) from
// sgemm_min_rows() activation rows, and keep the quantized types' own kernels (here Q5_0 with
// its integer arithmetic) beside them in the same call.
TEST(MatmulSgemm, MatmulTakesTheSgemmPathFromMinRows) {
  std::mt19937 rng(6);
  std::uniform_real_distribution<float> act(-2.0f, 2.0f);
  ThreadScope scope(2);
  const int cols = 512, n = sgemm_min_rows();
  ASSERT_GE(n, 2);
  const RandomMatrix a = random_matrix(TensorType::kF32, 70, cols, rng);
  const RandomMatrix b = random_matrix(TensorType::kF16, 33, cols, rng);
  const RandomMatrix c = random_matrix(TensorType::kQ5_0, 21, cols, rng);
  std::vector<float> x(static_cast<std::size_t>(n) * cols);
  for (auto& v : x) v = act(rng);
  std::vector<float> ya(static_cast<std::size_t>(n) * 70), yb(static_cast<std::size_t>(n) * 33),
      yc(static_cast<std::size_t>(n) * 21);
  std::vector<float> sa(ya.size()), sb(yb.size()), rc(yc.size());
  Activations acts(x.data(), n, cols);
  const MatmulJob jobs[] = {{&a.w, ya.data()}, {&c.w, yc.data()}, {&b.w, yb.data()}};
  matmul_many(jobs, acts);
  matmul_sgemm(a.w, x.data(), n, sa.data());
  matmul_sgemm(b.w, x.data(), n, sb.data());
  matmul_reference_q8(c.w, x.data(), n, rc.data());
  EXPECT_EQ(ya, sa);
  EXPECT_EQ(yb, sb);
  for (std::size_t i = 0; i < yc.size(); ++i)  // Q8_0 activations: the integer arithmetic
    EXPECT_NEAR(yc[i], rc[i], 1e-4 * (1 + std::fabs(rc[i]))) << i;
}

// Batched products of the quantized types give each activation row exactly what that row alone
// gets from the same arithmetic: Q4_0/Q5_0/Q8_0 on Q8_0 activations as the one-row integer
// kernel, Q4_K/Q6_K on float activations as dot_q*_k_f32 (one-row products of those use Q8_K).
// 37 rows: two groups of 16 for the pair kernels, then the four- and one-row kernels; 21 weight
// rows: a tile of 16 and a short one.
TEST(MatmulBatched, QuantizedKernelsEqualTheOneRowArithmetic) {
  std::mt19937 rng(8);
  std::uniform_real_distribution<float> act(-2.0f, 2.0f);
  const int rows = 21, cols = 512, n = 37;
  for (const TensorType type : {TensorType::kQ4_0, TensorType::kQ5_0, TensorType::kQ8_0,
                                TensorType::kQ4_K, TensorType::kQ6_K})
    for (const int threads : {1, 2}) {
      SCOPED_TRACE(testing::Message()
                   << tensor_type_name(static_cast<std::uint32_t>(type)) << " threads=" << threads);
      ThreadScope scope(threads);
      const RandomMatrix m = random_matrix(type, rows, cols, rng);
      std::vector<float> x(static_cast<std::size_t>(n) * cols);
      for (auto& v : x) v = act(rng);
      std::vector<float> batched(static_cast<std::size_t>(n) * rows), one(rows);
      Activations a(x.data(), n, cols);
      matmul(m.w, a, batched.data());
      for (int t = 0; t < n; ++t) {
        const float* xt = x.data() + static_cast<std::size_t>(t) * cols;
        if (type == TensorType::kQ4_K || type == TensorType::kQ6_K) {
          for (int r = 0; r < rows; ++r) {
            const std::uint8_t* wr = m.w.data + m.w.row_bytes * static_cast<std::size_t>(r);
            one[static_cast<std::size_t>(r)] =
                type == TensorType::kQ4_K ? dot_q4_k_f32(wr, xt, cols) : dot_q6_k_f32(wr, xt, cols);
          }
        } else {
          Activations single(xt, 1, cols);
          matmul(m.w, single, one.data());
        }
        for (int r = 0; r < rows; ++r)
          ASSERT_EQ(batched[static_cast<std::size_t>(t) * rows + r],
                    one[static_cast<std::size_t>(r)])
              << "t=" << t << " r=" << r;
      }
    }
}

}  // namespace
}  // namespace gearbox::serve
