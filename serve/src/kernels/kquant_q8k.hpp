// Private to the kernels: the Q4_K scale/min unpacking shared by kquant.cpp and
// kquant_q8k.cpp, and the AVX2 kernels of Q4_K / Q6_K weight rows times Q8_K activation rows
// (the scalar references are in kquant.hpp). N activation rows at once, row t at
// x + t * xstride; each weight super-block is unpacked once for the N rows (instantiated for
// N = 1, the one-row products that use Q8_K; see matmul.cpp's plan_product).
// The signature is matmul's DotRows: the scale arguments are unused (Q8_K blocks carry theirs)
// and nb32 counts blocks of 32 values.
#pragma once

#include <cstddef>
#include <cstdint>

#include "simd_q8.hpp"

namespace gearbox::serve {

// Scale and min of Q4_K sub-block j (0..7) from the 12 packed bytes: sub-blocks 0..3 keep
// theirs in the low 6 bits of bytes j and j + 4; sub-blocks 4..7 have their low 4 bits in
// byte j + 4 (scale low nibble, min high nibble) and their top 2 bits in the top bits of
// bytes j - 4 (scale) and j (min).
inline void q4_k_scale_min(const std::uint8_t* s, int j, int& sc, int& m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

#ifdef GEARBOX_AVX2
template <int N>
void dot_q4_k_q8_k_rows(const std::uint8_t* w, const std::uint8_t* x, std::size_t xstride,
                        const float* unused, std::size_t unused_stride, int nb32, float* out);
template <int N>
void dot_q6_k_q8_k_rows(const std::uint8_t* w, const std::uint8_t* x, std::size_t xstride,
                        const float* unused, std::size_t unused_stride, int nb32, float* out);
#endif

}  // namespace gearbox::serve
