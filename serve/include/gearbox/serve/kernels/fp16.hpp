// Half-precision (IEEE fp16) and bfloat16 conversions, scalar, exact (round to nearest even).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__F16C__) && defined(__AVX__)
#include <immintrin.h>
#endif

namespace gearbox::serve {

// Reads / writes 16 unaligned bits (block scales in quantized formats).
inline std::uint16_t load_u16(const std::uint8_t* p) {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline void store_u16(std::uint8_t* p, std::uint16_t v) {
  std::memcpy(p, &v, 2);
}

// fp16 bits -> float.
inline float fp16_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000) << 16;
  std::uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while ((mant & 0x400) == 0) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3FF;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1F) {
    bits = sign | 0x7F800000 | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// float -> fp16 bits, round to nearest even, overflow to inf, NaN kept.
inline std::uint16_t float_to_fp16(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  const std::uint32_t sign = (x >> 16) & 0x8000;
  const std::uint32_t abs = x & 0x7FFFFFFF;
  if (abs > 0x7F800000) return static_cast<std::uint16_t>(sign | 0x7E00);   // NaN
  if (abs >= 0x477FF000) return static_cast<std::uint16_t>(sign | 0x7C00);  // >= 65520: inf
  if (abs < 0x38800000) {  // below the smallest normal: subnormal or zero
    if (abs < 0x33000000) return static_cast<std::uint16_t>(sign);  // < 2^-25 rounds to 0
    const std::uint32_t e = abs >> 23, m = (abs & 0x7FFFFF) | 0x800000;
    const std::uint32_t shift = 126 - e;  // 14 + (113 - e)
    std::uint32_t r = m >> shift;
    const std::uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) ++r;
    return static_cast<std::uint16_t>(sign | r);
  }
  std::uint32_t r = ((abs >> 13) - ((127 - 15) << 10));
  const std::uint32_t rem = abs & 0x1FFF;
  if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) ++r;
  return static_cast<std::uint16_t>(sign | r);
}

// n floats -> fp16 bits (as float_to_fp16, eight at a time with F16C where the CPU has it).
inline void floats_to_fp16(const float* x, std::size_t n, std::uint16_t* out) {
  std::size_t i = 0;
#if defined(__F16C__) && defined(__AVX__)
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
#endif
  for (; i < n; ++i) out[i] = float_to_fp16(x[i]);
}

// n fp16 values -> floats (as fp16_to_float, exact; eight at a time with F16C where the CPU
// has it).
inline void fp16_to_floats(const std::uint16_t* h, std::size_t n, float* out) {
  std::size_t i = 0;
#if defined(__F16C__) && defined(__AVX__)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i,
                     _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))));
#endif
  for (; i < n; ++i) out[i] = fp16_to_float(h[i]);
}

// bfloat16 bits -> float.
inline float bf16_to_float(std::uint16_t h) {
  const std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace gearbox::serve
