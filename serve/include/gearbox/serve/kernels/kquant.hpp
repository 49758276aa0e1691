// GGML's K-quant super-blocks of 256 values (layouts as documented for llama.cpp's ggml):
//   Q4_K (144 bytes): f16 d, f16 dmin, u8 scales[12] (eight 6-bit scales and eight 6-bit mins),
//     u8 qs[128]; x = d * sc_j * q - dmin * m_j for sub-block j of 32 values, q in 0..15.
//   Q6_K (210 bytes): u8 ql[128] (low 4 bits), u8 qh[64] (high 2 bits), i8 scales[16],
//     f16 d; x = d * sc_i * (q - 32) for sub-block i of 16 values, q in 0..63.
//   Q5_K (176 bytes): Q4_K's d, dmin, scales, then u8 qh[32] (fifth bits), u8 qs[128].
//   Q3_K (110 bytes): u8 hmask[32], u8 qs[64] (2 bits each), u8 scales[12] (sixteen 6-bit
//     scales offset by 32), f16 d; x = d * sc_i * (q - (hmask bit ? 0 : 4)).
//   Q2_K (84 bytes): u8 scales[16] (4-bit scale, 4-bit min), u8 qs[64], f16 d, f16 dmin.
// Q2_K, Q3_K and Q5_K have dequantizers and dot products only (no quantizer here).
// Plain dequantizers (the reference), simple quantizers (for tests and tools), and the dot
// product of one weight row with float activations that the matrix kernels use.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gearbox::serve {

constexpr int kQkK = 256;  // values per K-quant super-block
constexpr std::size_t kQ2KBytes = 84, kQ3KBytes = 110, kQ4KBytes = 144, kQ5KBytes = 176,
                      kQ6KBytes = 210;

// Dequantize n values (a multiple of 256).
void dequantize_row_q4_k(const std::uint8_t* src, float* dst, int n);
void dequantize_row_q6_k(const std::uint8_t* src, float* dst, int n);
void dequantize_row_q5_k(const std::uint8_t* src, float* dst, int n);
void dequantize_row_q3_k(const std::uint8_t* src, float* dst, int n);
void dequantize_row_q2_k(const std::uint8_t* src, float* dst, int n);

// Quantize n values (a multiple of 256): per-sub-block min/max scales rounded to the 6-bit
// (Q4_K) or 8-bit (Q6_K) grid of a super-block scale; no error search as llama.cpp does.
void quantize_row_q4_k(const float* x, std::uint8_t* dst, int n);
void quantize_row_q6_k(const float* x, std::uint8_t* dst, int n);

// sum_i W[i] * x[i] over one row of n values (a multiple of 256): each super-block is
// unpacked into a small buffer and multiplied with vector instructions.
float dot_q4_k_f32(const std::uint8_t* w, const float* x, int n);
float dot_q6_k_f32(const std::uint8_t* w, const float* x, int n);
float dot_q5_k_f32(const std::uint8_t* w, const float* x, int n);
float dot_q3_k_f32(const std::uint8_t* w, const float* x, int n);
float dot_q2_k_f32(const std::uint8_t* w, const float* x, int n);

// Q8_K activations (llama.cpp's vec_dot_type of Q2_K..Q6_K): per 256 values {f32 d, i8 q[256],
// i16 bsums[16] (sums of q per 16)}; d = max / -127 where max is the signed value of largest
// magnitude (so it quantizes to -127), q = min(127, round-half-even(x / d)), as
// llama.cpp's quantize_row_q8_K_ref (the x86 build uses it, and its repacked-Q4_K quantizer
// gives the same values). An all-zero block has d = 0.
constexpr std::size_t kQ8KBytes = 292;
void quantize_row_q8_k(const float* x, std::uint8_t* dst, int n);

// sum_i W[i] * x[i] over n values (a multiple of 256) with x in Q8_K, in integers per
// super-block as llama.cpp's vec_dot_q4_K_q8_K / vec_dot_q6_K_q8_K: scalar references of the
// matrix kernels' arithmetic.
float dot_q4_k_q8_k_scalar(const std::uint8_t* w, const std::uint8_t* y, int n);
float dot_q6_k_q8_k_scalar(const std::uint8_t* w, const std::uint8_t* y, int n);

}  // namespace gearbox::serve
