// Matrix products on weights in their stored (possibly quantized) format, as the model's
// linear layers need them: y[t][r] = sum_c W[r][c] * x[t][c] for every activation row t.
// Quantized weights are used in place: activations are quantized to 8 bits (Q8_0 for
// Q4_0/Q5_0/Q8_0 weights, Q8_1 for Q4_1/Q5_1, as llama.cpp does; Q8_K for Q4_K/Q6_K in one-row
// products) and blocks are multiplied in integer SIMD registers (AVX2, with AVX-VNNI where the
// compiler targets it), four activation rows per pass over a weight row in batched products,
// with OpenMP over weight rows; where the CPU has AVX-512 (BW, DQ, VNNI), batched products of
// Q4_0/Q5_0/Q8_0 and K-quants take 16 activation rows per pass, two per 512-bit register, with
// each row's lanes and order of sums those of the 256-bit kernels (equal results, bit for bit).
// K-quant rows of batched products (and Q2_K/Q3_K/Q5_K always) are unpacked to floats, once per row
// for all activation rows. Float weights (F32, F16, BF16) in batches of sgemm_min_rows() rows go
// through sgemm (matmul_sgemm). Plain references beside them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "gearbox/serve/gguf/tensor_type.hpp"

namespace gearbox::serve {

struct GgufTensor;

// A row-major weight matrix: `rows` rows of `cols` values in `type`'s block format.
struct WeightMatrix {
  TensorType type = TensorType::kF32;
  const std::uint8_t* data = nullptr;
  int rows = 0, cols = 0;
  std::size_t row_bytes = 0;
};

// The matrix view of a 2-D GGUF tensor (dims[0] = cols). Throws Error::input for types the
// kernels do not multiply (naming the tensor).
WeightMatrix weight_matrix(const GgufTensor& t);

// Activation rows (n x cols floats) with their 8-bit quantized forms made on first use, so
// several matrices multiplying the same input (Q, K, V; gate, up) quantize it once.
class Activations {
 public:
  Activations(const float* x, int n, int cols) : x_(x), n_(n), cols_(cols) {}
  const float* data() const { return x_; }
  int n() const { return n_; }
  int cols() const { return cols_; }
  // Q8_0 / Q8_1 blocks of every row (cols must be a multiple of 32).
  const std::uint8_t* q8_0();
  const std::uint8_t* q8_1();
  // Q8_K blocks of every row (cols must be a multiple of 256; kquant.hpp).
  const std::uint8_t* q8_k();
  // The blocks' scales as floats (Q8_0: d per block; Q8_1: d, s per block), filled with them.
  const float* q8_0_scales() const { return q8_0_scales_.data(); }
  const float* q8_1_scales() const { return q8_1_scales_.data(); }
  // Rows in groups of 16 (rows 16g .. 16g + 15; whole groups only), the layout of the kernels
  // that multiply 16 activation rows per pass over weight rows, two per 512-bit register:
  // q8_0_groups() has per group, per block, per pair of the group's rows (2p, 2p + 1) 128
  // bytes: their two Q8_0 quant arrays (64 bytes), then their two scales each repeated 8
  // times (16 floats). q8_0_group_bias_sums(bias) has, per group, block and pair, 16 int32:
  // -bias times the sum of each 4 consecutive quants of those 64 bytes, the start of the
  // kernels that multiply the weights' unsigned values (signed value + bias: 8, 16 or 128 for
  // Q4_0, Q5_0, Q8_0), whose lanes then hold exactly the signed products' sums. Rows 2p and
  // 2p + 1 side by side in float_pairs(): per 8 columns their 8 floats each.
  const std::uint8_t* q8_0_groups();
  const std::int32_t* q8_0_group_bias_sums(int bias);
  const float* float_pairs();

 private:
  const float* x_;
  int n_, cols_;
  std::vector<std::uint8_t> q8_0_, q8_1_, q8_k_;
  std::vector<float> q8_0_scales_, q8_1_scales_;
  std::vector<std::uint8_t> q8_0_groups_;
  std::vector<std::int32_t> group_bias_sums_[3];  // for bias 8, 16, 128
  std::vector<float> float_pairs_;
};

// y (n x rows) = x (n x cols) * W^T, with the fast kernels, multithreaded.
void matmul(const WeightMatrix& w, Activations& x, float* y);

// One product of matmul_many: y (n x w->rows) = x * W^T.
struct MatmulJob {
  const WeightMatrix* w;
  float* y;
};
// Several products of the same activations (Q, K, V; gate, up) in one parallel region: one
// thread fork/join for all of them instead of one each (on a loaded machine, where a thread
// spins while its partner waits for a CPU, these waits were 86% of 2-thread decode's cycles).
// Results equal matmul's, bit for bit.
// At most 8 jobs (Error::usage beyond).
void matmul_many(std::span<const MatmulJob> jobs, Activations& x);

// y (n x rows) = x (n x cols) * W^T by OpenBLAS's sgemm, the weights (any type weight_matrix
// accepts) dequantized a panel of rows at a time (about 1 MiB of floats, to stay in L2), float
// activations. With several threads the panels are split across them (sgemm on one thread
// each); GEARBOX_SGEMM_THREADS=blas runs the panels in turn on OpenBLAS's threads instead.
// matmul and matmul_many use it for F32/F16/BF16 weights from sgemm_min_rows() rows. Quantized
// types keep their own kernels, whose per-block order of sums is llama.cpp's: sgemm sums the
// same products in another order, and those float roundings flip the next layer's 8-bit
// roundings of the activations, so the logits move away from llama.cpp's (0.03 to 0.2 at the
// first position of SmolLM2, 1e-3 before) and Gemma 3's perplexity on the test text moves by
// 0.4% with the BLAS build's kernels (docs/serve-engine-bench.md).
void matmul_sgemm(const WeightMatrix& w, const float* x, int n, float* y);

// Activation rows from which matmul uses matmul_sgemm for float weights:
// GEARBOX_SGEMM_MIN_ROWS when set (read once; a value above any batch turns the path off), else
// kSgemmMinRowsDefault.
constexpr int kSgemmMinRowsDefault = 16;
int sgemm_min_rows();

// Reference: weights dequantized to float, products summed in double, activations in float.
void matmul_reference(const WeightMatrix& w, const float* x, int n, float* y);

// Reference with the fast path's arithmetic (activations quantized to Q8_0/Q8_1 first; Q8_K for
// Q4_K/Q6_K, as the fast path's one-row products), scalar.
void matmul_reference_q8(const WeightMatrix& w, const float* x, int n, float* y);

// Dequantizes `n` values (a multiple of the block size) of `type` at `src` into `dst`.
void dequantize_row(TensorType type, const std::uint8_t* src, float* dst, int n);

// Quantizes n floats (a multiple of 32) into blocks: Q8_0 = {f16 d, int8 q[32]}, Q8_1 = {f16 d,
// f16 s = d * sum(q), int8 q[32]}; rounding as llama.cpp's AVX2 code does.
void quantize_row_q8_0(const float* x, std::uint8_t* dst, int n);
void quantize_row_q8_1(const float* x, std::uint8_t* dst, int n);
// Quantizes n floats into Q4_0, Q4_1 or Q8_0 weight blocks (for tests and tools).
void quantize_row(TensorType type, const float* x, std::uint8_t* dst, int n);

}  // namespace gearbox::serve
