// Every GGML block format the engine reads (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K) against
// an independent float reference: random blocks dequantized by llama.cpp's gguf-py (data made
// once by bench/serve/make_quant_reference.py), then the fast matrix kernels against the
// dequantize-then-multiply reference on random blocks of awkward sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <vector>

#include "gearbox/core/output.hpp"
#include "gearbox/core/threads.hpp"
#include "gearbox/serve/gguf/tensor_type.hpp"
#include "gearbox/serve/kernels/fp16.hpp"
#include "gearbox/serve/kernels/matmul.hpp"

namespace gearbox::serve {
namespace {

std::vector<std::uint8_t> from_hex(const std::string& h) {
  std::vector<std::uint8_t> out(h.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<std::uint8_t>(std::stoi(h.substr(2 * i, 2), nullptr, 16));
  return out;
}

TEST(QuantReference, DequantizeEqualsGgufPy) {
  std::ifstream in(std::string(GEARBOX_SOURCE_DIR) +
                   "/tests/serve/engine/data/quant_reference.json");
  ASSERT_TRUE(in) << "tests/serve/engine/data/quant_reference.json missing";
  const Json ref = Json::parse(in);
  ASSERT_EQ(ref["types"].size(), 10u);
  for (const auto& t : ref["types"]) {
    const auto id = t["type_id"].get<std::uint32_t>();
    SCOPED_TRACE(t["name"].get<std::string>());
    const auto info = tensor_type_info(id);
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->name, t["name"].get<std::string>());
    const auto bytes = from_hex(t["bytes_hex"].get<std::string>());
    const auto want = t["values"].get<std::vector<float>>();
    ASSERT_EQ(bytes.size(), tensor_bytes(static_cast<TensorType>(id), want.size()));
    std::vector<float> got(want.size());
    dequantize_row(static_cast<TensorType>(id), bytes.data(), got.data(),
                   static_cast<int>(want.size()));
    for (std::size_t i = 0; i < want.size(); ++i)
      ASSERT_NEAR(got[i], want[i], 1e-6 * (1 + std::fabs(want[i]))) << "value " << i;
  }
}

// Random bytes with small f16 scales at the format's scale fields.
std::vector<std::uint8_t> random_blocks(TensorType type, std::size_t n_blocks, std::mt19937& rng) {
  const auto info = *tensor_type_info(static_cast<std::uint32_t>(type));
  std::vector<std::uint8_t> b(n_blocks * info.block_bytes);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(0.002f, 0.04f);
  for (auto& x : b) x = static_cast<std::uint8_t>(byte(rng));
  std::vector<std::size_t> fields;
  switch (type) {
    case TensorType::kQ5_0:
      fields = {0};
      break;
    case TensorType::kQ5_1:
    case TensorType::kQ5_K:
      fields = {0, 2};
      break;
    case TensorType::kQ3_K:
      fields = {108};
      break;
    case TensorType::kQ2_K:
      fields = {80, 82};
      break;
    default:
      ADD_FAILURE() << "no scale fields for this type";
  }
  for (std::size_t blk = 0; blk < n_blocks; ++blk)
    for (const auto off : fields)
      store_u16(b.data() + blk * info.block_bytes + off, float_to_fp16(scale(rng)));
  return b;
}

TEST(QuantReference, MatmulOfNewTypesMatchesReferenceOnAwkwardSizes) {
  std::mt19937 rng(14);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const TensorType type : {TensorType::kQ5_0, TensorType::kQ5_1, TensorType::kQ2_K,
                                TensorType::kQ3_K, TensorType::kQ5_K})
    for (const int threads : {1, 2})
      for (const auto& [rows, cols, n] :
           {std::tuple{37, 256, 1}, {5, 768, 3}, {1, 512, 2}, {19, 256, 5}, {17, 1280, 6}}) {
        SCOPED_TRACE(testing::Message()
                     << tensor_type_name(static_cast<std::uint32_t>(type)) << " " << rows << "x"
                     << cols << " n=" << n << " threads=" << threads);
        ThreadScope scope(threads);
        const auto info = *tensor_type_info(static_cast<std::uint32_t>(type));
        WeightMatrix w;
        w.type = type;
        w.rows = rows;
        w.cols = cols;
        w.row_bytes = tensor_bytes(type, static_cast<std::size_t>(cols));
        const auto bytes =
            random_blocks(type, static_cast<std::size_t>(rows) * cols / info.block_elems, rng);
        w.data = bytes.data();
        std::vector<float> x(static_cast<std::size_t>(n) * cols);
        for (auto& v : x) v = normal(rng);
        std::vector<float> fast(static_cast<std::size_t>(n) * rows), ref(fast.size()),
            ref_q8(fast.size());
        Activations a(x.data(), n, cols);
        matmul(w, a, fast.data());
        matmul_reference(w, x.data(), n, ref.data());
        matmul_reference_q8(w, x.data(), n, ref_q8.data());
        double scale = 0;
        for (const float r : ref) scale = std::max(scale, static_cast<double>(std::fabs(r)));
        for (std::size_t i = 0; i < fast.size(); ++i) {
          // The fast path equals its own arithmetic's scalar reference closely, and the float
          // reference within the 8-bit activation rounding (Q5_0/Q5_1 use Q8 activations).
          EXPECT_NEAR(fast[i], ref_q8[i], 1e-4 * (1 + std::fabs(ref_q8[i]))) << i;
          EXPECT_NEAR(fast[i], ref[i], 0.02 * scale + 1e-4) << i;
        }
      }
}

}  // namespace
}  // namespace gearbox::serve
