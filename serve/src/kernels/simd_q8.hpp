// AVX2 building blocks of the 8-bit block dot products (private to the kernels): horizontal
// sums, 4-bit unpacking and the int8 multiply-adds. With AVX-VNNI (or AVX-512 VNNI) the
// multiply-add of unsigned by signed bytes is one instruction; without it, maddubs + madd. In
// every use here no 16-bit pair sum saturates (unsigned operand <= 128, signed >= -127), so
// both give the same integers.
#pragma once

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "gearbox/serve/kernels/fp16.hpp"
#define GEARBOX_AVX2 1

namespace gearbox::serve::simd {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256i nibbles(const std::uint8_t* qs) {  // 16 bytes -> 32 values 0..15
  const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i b = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
  return _mm256_and_si256(b, _mm256_set1_epi8(0x0F));
}

inline __m256i load32(const std::uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// Four-byte groups of unsigned u times signed s, summed into 8 int32 lanes (lane k: bytes
// 4k..4k+3).
inline __m256i dot_u8_i8(__m256i u, __m256i s) {
#if defined(__AVXVNNI__)
  return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), u, s);
#elif defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}

inline __m256 mul_sum_u8_i8(__m256i u, __m256i s) {  // unsigned x signed -> 8 float sums
  return _mm256_cvtepi32_ps(dot_u8_i8(u, s));
}

// Signed x by signed y as |x| times y with x's sign: `ax` = |x| once for several y.
inline __m256 mul_sum_abs_i8(__m256i x, __m256i ax, __m256i y) {
  return _mm256_cvtepi32_ps(dot_u8_i8(ax, _mm256_sign_epi8(y, x)));
}

inline __m256 mul_sum_i8(__m256i x, __m256i y) {  // signed x signed -> 8 float sums
  return mul_sum_abs_i8(x, _mm256_sign_epi8(x, x), y);
}

// One-row (decode) products stream each weight byte once from memory: a software prefetch
// this far ahead of the block being multiplied keeps enough misses in flight that the Q8_0
// output projection of Gemma 3 (178 MB) ran at 18.5 ms instead of 28.5 ms on one thread, at the
// speed of a plain read of the same bytes (docs/serve-engine-bench.md).
constexpr std::size_t kPrefetchBytes = 4096;
inline void prefetch_ahead(const std::uint8_t* p) {
  _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchBytes), _MM_HINT_T0);
}

inline float f16(const std::uint8_t* p) {
  return _cvtsh_ss(load_u16(p));
}

}  // namespace gearbox::serve::simd
#endif
