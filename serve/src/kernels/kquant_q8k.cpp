// Q4_K and Q6_K weights times Q8_K activations in integer registers (llama.cpp's arithmetic
// for these types on x86: vec_dot_type Q8_K). See kquant.hpp and kquant_q8k.hpp.
#include "kquant_q8k.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "gearbox/serve/kernels/fp16.hpp"
#include "gearbox/serve/kernels/kquant.hpp"
#include "simd_q8.hpp"

namespace gearbox::serve {

namespace {

// Q8_K block fields (layout in kquant.hpp).
inline float q8k_d(const std::uint8_t* y) {
  float d;
  std::memcpy(&d, y, 4);
  return d;
}
inline const std::int8_t* q8k_qs(const std::uint8_t* y) {
  return reinterpret_cast<const std::int8_t*>(y + 4);
}
inline int q8k_bsum(const std::uint8_t* y, int i) {
  std::int16_t s;
  std::memcpy(&s, y + 260 + 2 * i, 2);
  return s;
}

// Round half to even, as llama.cpp's nearest_int (and the AVX rounding it uses elsewhere).
inline int nearest_int(float v) {
  return static_cast<int>(std::nearbyint(v));
}

}  // namespace

void quantize_row_q8_k(const float* x, std::uint8_t* dst, int n) {
  for (int b = 0; b < n / kQkK; ++b, x += kQkK, dst += kQ8KBytes) {
    float amax = 0, max = 0;  // largest magnitude and its signed value (first one on ties)
    for (int j = 0; j < kQkK; ++j)
      if (std::fabs(x[j]) > amax) amax = std::fabs(x[j]), max = x[j];
    std::memset(dst, 0, kQ8KBytes);
    if (amax == 0) continue;
    const float iscale = -127.0f / max;
    std::int16_t bsums[16] = {};
    for (int j = 0; j < kQkK; ++j) {
      const int q = std::min(127, nearest_int(iscale * x[j]));
      dst[4 + j] = static_cast<std::uint8_t>(static_cast<std::int8_t>(q));
      bsums[j / 16] = static_cast<std::int16_t>(bsums[j / 16] + q);
    }
    const float d = 1.0f / iscale;
    std::memcpy(dst, &d, 4);
    std::memcpy(dst + 260, bsums, sizeof bsums);
  }
}

float dot_q4_k_q8_k_scalar(const std::uint8_t* w, const std::uint8_t* y, int n) {
  float acc = 0;
  for (int b = 0; b < n / kQkK; ++b, w += kQ4KBytes, y += kQ8KBytes) {
    const std::int8_t* q8 = q8k_qs(y);
    const std::uint8_t* q4 = w + 16;
    int sumi = 0, summ = 0;
    for (int j = 0; j < 8; ++j) {
      int sc, m;
      q4_k_scale_min(w + 4, j, sc, m);
      summ += m * (q8k_bsum(y, 2 * j) + q8k_bsum(y, 2 * j + 1));
      // Sub-block j: low nibbles (j even) or high nibbles (j odd) of bytes 32 (j / 2) + l.
      int s = 0;
      for (int l = 0; l < 32; ++l) {
        const int q = (j & 1) ? (q4[32 * (j / 2) + l] >> 4) : (q4[32 * (j / 2) + l] & 0xF);
        s += q * q8[32 * j + l];
      }
      sumi += sc * s;
    }
    const float d = fp16_to_float(load_u16(w)) * q8k_d(y);
    const float dmin = fp16_to_float(load_u16(w + 2)) * q8k_d(y);
    acc += d * static_cast<float>(sumi) - dmin * static_cast<float>(summ);
  }
  return acc;
}

float dot_q6_k_q8_k_scalar(const std::uint8_t* w, const std::uint8_t* y, int n) {
  float acc = 0;
  for (int b = 0; b < n / kQkK; ++b, w += kQ6KBytes, y += kQ8KBytes) {
    const std::int8_t* q8 = q8k_qs(y);
    const auto* sc = reinterpret_cast<const std::int8_t*>(w + 192);
    int sumi = 0;
    for (int v0 = 0; v0 < kQkK; v0 += 16) {  // sub-block v0 / 16
      int s = 0;
      for (int v = v0; v < v0 + 16; ++v) {
        // Value v = 128 h + 32 k + l: low 4 bits in ql[64 h + l + 32 (k & 1)] (high nibble for
        // k >= 2), high 2 bits at bit 2k of qh[32 h + l].
        const int h = v / 128, k = (v % 128) / 32, l = v % 32;
        const std::uint8_t lo = w[64 * h + l + 32 * (k & 1)];
        const int low = k >= 2 ? lo >> 4 : lo & 0xF;
        const int high = (w[128 + 32 * h + l] >> (2 * k)) & 3;
        s += ((low | (high << 4)) - 32) * q8[v];
      }
      sumi += sc[v0 / 16] * s;
    }
    acc += fp16_to_float(load_u16(w + 208)) * q8k_d(y) * static_cast<float>(sumi);
  }
  return acc;
}

#ifdef GEARBOX_AVX2
using namespace simd;

namespace {
// 8 int32 lanes, lanes 0-3 times a, lanes 4-7 times b.
inline __m256i scale_halves(__m256i v, int a, int b) {
  return _mm256_mullo_epi32(v, _mm256_setr_epi32(a, a, a, a, b, b, b, b));
}
}  // namespace

template <int N>
void dot_q4_k_q8_k_rows(const std::uint8_t* w, const std::uint8_t* x, std::size_t xstride,
                        const float*, std::size_t, int nb32, float* out) {
  __m256 acc[N];
  float mins[N];
  for (int t = 0; t < N; ++t) acc[t] = _mm256_setzero_ps(), mins[t] = 0;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  for (int b = 0; b < nb32 / 8; ++b, w += kQ4KBytes) {
    if constexpr (N == 1)
      for (std::size_t o = 0; o < kQ4KBytes; o += 64) prefetch_ahead(w + o);
    int sc[8], m[8];
    for (int j = 0; j < 8; ++j) q4_k_scale_min(w + 4, j, sc[j], m[j]);
    __m256i q[8];  // sub-block j's 32 values 0..15
    for (int c = 0; c < 4; ++c) {
      const __m256i raw = load32(w + 16 + 32 * c);
      q[2 * c] = _mm256_and_si256(raw, low4);
      q[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
    }
    const float dw = f16(w), mw = f16(w + 2);
    for (int t = 0; t < N; ++t) {
      const std::uint8_t* y = x + t * xstride + static_cast<std::size_t>(b) * kQ8KBytes;
      const auto* q8 = reinterpret_cast<const std::uint8_t*>(q8k_qs(y));
      __m256i sumi = _mm256_setzero_si256();
      int summ = 0;
      for (int j = 0; j < 8; ++j) {
        sumi = _mm256_add_epi32(sumi, _mm256_mullo_epi32(dot_u8_i8(q[j], load32(q8 + 32 * j)),
                                                         _mm256_set1_epi32(sc[j])));
        summ += m[j] * (q8k_bsum(y, 2 * j) + q8k_bsum(y, 2 * j + 1));
      }
      const float dy = q8k_d(y);
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * dy), _mm256_cvtepi32_ps(sumi), acc[t]);
      mins[t] += mw * dy * static_cast<float>(summ);
    }
  }
  for (int t = 0; t < N; ++t) out[t] = hsum(acc[t]) - mins[t];
}

template <int N>
void dot_q6_k_q8_k_rows(const std::uint8_t* w, const std::uint8_t* x, std::size_t xstride,
                        const float*, std::size_t, int nb32, float* out) {
  __m256 acc[N];
  for (int t = 0; t < N; ++t) acc[t] = _mm256_setzero_ps();
  const __m256i low4 = _mm256_set1_epi8(0x0F), two = _mm256_set1_epi8(3);
  for (int b = 0; b < nb32 / 8; ++b, w += kQ6KBytes) {
    if constexpr (N == 1)
      for (std::size_t o = 0; o < kQ6KBytes; o += 64) prefetch_ahead(w + o);
    const auto* sc = reinterpret_cast<const std::int8_t*>(w + 192);
    __m256i q[8];  // values 32 i .. 32 i + 31, unsigned 0..63
    for (int h = 0; h < 2; ++h) {
      const __m256i l0 = load32(w + 64 * h), l1 = load32(w + 64 * h + 32);
      const __m256i hb = load32(w + 128 + 32 * h);
      auto high = [&](int k) {
        return _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * k), two), 4);
      };
      q[4 * h + 0] = _mm256_or_si256(_mm256_and_si256(l0, low4), high(0));
      q[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(l1, low4), high(1));
      q[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4), high(2));
      q[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4), high(3));
    }
    const float dw = f16(w + 208);
    for (int t = 0; t < N; ++t) {
      const std::uint8_t* y = x + t * xstride + static_cast<std::size_t>(b) * kQ8KBytes;
      const auto* q8 = reinterpret_cast<const std::uint8_t*>(q8k_qs(y));
      __m256i sumi = _mm256_setzero_si256();
      int offset = 0;  // sum_i sc_i * 32 * bsum_i: the -32 of every value
      for (int i = 0; i < 8; ++i) {
        sumi = _mm256_add_epi32(
            sumi, scale_halves(dot_u8_i8(q[i], load32(q8 + 32 * i)), sc[2 * i], sc[2 * i + 1]));
        offset += sc[2 * i] * q8k_bsum(y, 2 * i) + sc[2 * i + 1] * q8k_bsum(y, 2 * i + 1);
      }
      sumi = _mm256_sub_epi32(sumi, _mm256_setr_epi32(32 * offset, 0, 0, 0, 0, 0, 0, 0));
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * q8k_d(y)), _mm256_cvtepi32_ps(sumi), acc[t]);
    }
  }
  for (int t = 0; t < N; ++t) out[t] = hsum(acc[t]);
}

template void dot_q4_k_q8_k_rows<1>(const std::uint8_t*, const std::uint8_t*, std::size_t,
                                    const float*, std::size_t, int, float*);
template void dot_q6_k_q8_k_rows<1>(const std::uint8_t*, const std::uint8_t*, std::size_t,
                                    const float*, std::size_t, int, float*);
#endif

}  // namespace gearbox::serve
