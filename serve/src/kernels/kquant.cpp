// K-quants (Q2_K..Q6_K): dequantizers, quantizers, row dot products. See kquant.hpp.
#include "gearbox/serve/kernels/kquant.hpp"

#include <algorithm>
#include <cmath>

#include "gearbox/serve/kernels/fp16.hpp"
#include "gearbox/serve/kernels/ops.hpp"
#include "kquant_q8k.hpp"

namespace gearbox::serve {

namespace {

void q4_k_pack_scales(const int sc[8], const int m[8], std::uint8_t* s) {
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<std::uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    s[j + 4] = static_cast<std::uint8_t>((m[j] & 63) | ((m[j + 4] >> 4) << 6));
    s[j + 8] = static_cast<std::uint8_t>((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
  }
}

// One Q4_K super-block (256 values) into dst; with `qh` (Q5_K) each value gets a fifth bit:
// bit 2c of qh[l] for value l of chunk c's first 32 values, bit 2c + 1 for its second 32.
void q45_k_block(const std::uint8_t* b, const std::uint8_t* qh, const std::uint8_t* q, float* dst) {
  const float d = fp16_to_float(load_u16(b)), dmin = fp16_to_float(load_u16(b + 2));
  const std::uint8_t* scales = b + 4;
  for (int c = 0; c < 4; ++c, q += 32, dst += 64) {  // 64 values: sub-blocks 2c, 2c + 1
    int sc0, m0, sc1, m1;
    q4_k_scale_min(scales, 2 * c, sc0, m0);
    q4_k_scale_min(scales, 2 * c + 1, sc1, m1);
    const float d0 = d * static_cast<float>(sc0), o0 = dmin * static_cast<float>(m0);
    const float d1 = d * static_cast<float>(sc1), o1 = dmin * static_cast<float>(m1);
    for (int l = 0; l < 32; ++l) {
      const int h0 = qh ? ((qh[l] >> (2 * c)) & 1) << 4 : 0;
      const int h1 = qh ? ((qh[l] >> (2 * c + 1)) & 1) << 4 : 0;
      dst[l] = d0 * static_cast<float>((q[l] & 0xF) | h0) - o0;
      dst[l + 32] = d1 * static_cast<float>((q[l] >> 4) | h1) - o1;
    }
  }
}

void q4_k_block(const std::uint8_t* b, float* dst) {
  q45_k_block(b, nullptr, b + 16, dst);
}

// Q5_K: Q4_K's d, dmin and scales, then qh[32] and qs[128].
void q5_k_block(const std::uint8_t* b, float* dst) {
  q45_k_block(b, b + 16, b + 48, dst);
}

// One Q6_K super-block (256 values) into dst: two halves of 128, each value l + 32k of a half
// (k = 0..3) has its low bits in ql[l] (k even) or ql[l + 32] (k odd), low nibble for k < 2,
// and its high 2 bits at bit 2k of qh[l].
void q6_k_block(const std::uint8_t* b, float* dst) {
  const std::uint8_t* ql = b;
  const std::uint8_t* qh = b + 128;
  const auto* sc = reinterpret_cast<const std::int8_t*>(b + 192);
  const float d = fp16_to_float(load_u16(b + 208));
  for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, dst += 128)
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      dst[l] = d * static_cast<float>(sc[is] * q1);
      dst[l + 32] = d * static_cast<float>(sc[is + 2] * q2);
      dst[l + 64] = d * static_cast<float>(sc[is + 4] * q3);
      dst[l + 96] = d * static_cast<float>(sc[is + 6] * q4);
    }
}

// One Q3_K super-block (u8 hmask[32], u8 qs[64], u8 scales[12], f16 d): sixteen 6-bit scales
// (low 4 bits: scale i in byte i % 8, low nibble for i < 8; top 2 bits: bits 2(i / 4) of byte
// 8 + i % 4), each offset by 32. Value 128h + 32k + l (half h, k = 0..3, l = 0..31) takes 2
// bits at shift 2k of qs[32h + l] and subtracts 4 unless bit 4h + k of hmask[l] is set.
void q3_k_block(const std::uint8_t* b, float* dst) {
  const std::uint8_t* hm = b;
  const std::uint8_t* qs = b + 32;
  const std::uint8_t* sb = b + 96;
  const float d = fp16_to_float(load_u16(b + 108));
  int sc[16];
  for (int i = 0; i < 16; ++i) {
    const int lo = i < 8 ? (sb[i] & 0xF) : (sb[i - 8] >> 4);
    const int hi = (sb[8 + i % 4] >> (2 * (i / 4))) & 3;
    sc[i] = (lo | (hi << 4)) - 32;
  }
  for (int h = 0; h < 2; ++h)
    for (int k = 0; k < 4; ++k)
      for (int l = 0; l < 32; ++l) {
        const int q = (qs[32 * h + l] >> (2 * k)) & 3;
        const int sub = (hm[l] >> (4 * h + k)) & 1 ? 0 : 4;
        const int v = 128 * h + 32 * k + l;
        dst[v] = d * static_cast<float>(sc[v / 16] * (q - sub));
      }
}

// One Q2_K super-block (u8 scales[16], u8 qs[64], f16 d, f16 dmin): sub-block i of 16 has
// scale d * (scales[i] & 15) and min dmin * (scales[i] >> 4); value 128h + 32k + l takes 2 bits
// at shift 2k of qs[32h + l].
void q2_k_block(const std::uint8_t* b, float* dst) {
  const std::uint8_t* sc = b;
  const std::uint8_t* qs = b + 16;
  const float d = fp16_to_float(load_u16(b + 80)), dmin = fp16_to_float(load_u16(b + 82));
  for (int h = 0; h < 2; ++h)
    for (int k = 0; k < 4; ++k)
      for (int l = 0; l < 32; ++l) {
        const int v = 128 * h + 32 * k + l;
        const int q = (qs[32 * h + l] >> (2 * k)) & 3;
        const std::uint8_t s = sc[v / 16];
        dst[v] = d * static_cast<float>(s & 0xF) * static_cast<float>(q) -
                 dmin * static_cast<float>(s >> 4);
      }
}

int clamp_round(float v, int lo, int hi) {
  return std::clamp(static_cast<int>(std::lround(v)), lo, hi);
}

}  // namespace

void dequantize_row_q4_k(const std::uint8_t* src, float* dst, int n) {
  for (int b = 0; b < n / kQkK; ++b) q4_k_block(src + b * kQ4KBytes, dst + b * kQkK);
}

void dequantize_row_q6_k(const std::uint8_t* src, float* dst, int n) {
  for (int b = 0; b < n / kQkK; ++b) q6_k_block(src + b * kQ6KBytes, dst + b * kQkK);
}

void dequantize_row_q5_k(const std::uint8_t* src, float* dst, int n) {
  for (int b = 0; b < n / kQkK; ++b) q5_k_block(src + b * kQ5KBytes, dst + b * kQkK);
}

void dequantize_row_q3_k(const std::uint8_t* src, float* dst, int n) {
  for (int b = 0; b < n / kQkK; ++b) q3_k_block(src + b * kQ3KBytes, dst + b * kQkK);
}

void dequantize_row_q2_k(const std::uint8_t* src, float* dst, int n) {
  for (int b = 0; b < n / kQkK; ++b) q2_k_block(src + b * kQ2KBytes, dst + b * kQkK);
}

void quantize_row_q4_k(const float* x, std::uint8_t* dst, int n) {
  for (int b = 0; b < n / kQkK; ++b, x += kQkK, dst += kQ4KBytes) {
    // Per sub-block: offset lo <= 0 (stored as a positive min) and step (hi - lo) / 15.
    float step[8], neg_lo[8], max_step = 0, max_lo = 0;
    for (int j = 0; j < 8; ++j) {
      float lo = 0, hi = 0;
      for (int l = 0; l < 32; ++l)
        lo = std::min(lo, x[32 * j + l]), hi = std::max(hi, x[32 * j + l]);
      step[j] = (hi - lo) / 15.0f;
      neg_lo[j] = -lo;
      max_step = std::max(max_step, step[j]);
      max_lo = std::max(max_lo, neg_lo[j]);
    }
    const float d = fp16_to_float(float_to_fp16(max_step / 63.0f));
    const float dmin = fp16_to_float(float_to_fp16(max_lo / 63.0f));
    int sc[8], m[8];
    for (int j = 0; j < 8; ++j) {
      sc[j] = d > 0 ? clamp_round(step[j] / d, 0, 63) : 0;
      m[j] = dmin > 0 ? clamp_round(neg_lo[j] / dmin, 0, 63) : 0;
    }
    store_u16(dst, float_to_fp16(d));
    store_u16(dst + 2, float_to_fp16(dmin));
    q4_k_pack_scales(sc, m, dst + 4);
    std::uint8_t* q = dst + 16;
    for (int c = 0; c < 4; ++c, q += 32)
      for (int l = 0; l < 32; ++l) {
        int nib[2];
        for (int h = 0; h < 2; ++h) {
          const int j = 2 * c + h;
          const float scale = d * static_cast<float>(sc[j]);
          const float v = x[64 * c + 32 * h + l] + dmin * static_cast<float>(m[j]);
          nib[h] = scale > 0 ? clamp_round(v / scale, 0, 15) : 0;
        }
        q[l] = static_cast<std::uint8_t>(nib[0] | (nib[1] << 4));
      }
  }
}

void quantize_row_q6_k(const float* x, std::uint8_t* dst, int n) {
  for (int b = 0; b < n / kQkK; ++b, x += kQkK, dst += kQ6KBytes) {
    float step[16], max_abs_step = 0;
    for (int i = 0; i < 16; ++i) {
      float amax = 0, v = 0;  // signed value of largest magnitude, mapped to -32
      for (int l = 0; l < 16; ++l)
        if (std::fabs(x[16 * i + l]) > amax) amax = std::fabs(x[16 * i + l]), v = x[16 * i + l];
      step[i] = v / -32.0f;
      max_abs_step = std::max(max_abs_step, std::fabs(step[i]));
    }
    const float d = fp16_to_float(float_to_fp16(max_abs_step / 127.0f));
    std::int8_t sc[16];
    for (int i = 0; i < 16; ++i)
      sc[i] = static_cast<std::int8_t>(d > 0 ? clamp_round(step[i] / d, -128, 127) : 0);
    int q[kQkK];
    for (int v = 0; v < kQkK; ++v) {
      const float scale = d * static_cast<float>(sc[v / 16]);
      q[v] = scale != 0 ? clamp_round(x[v] / scale, -32, 31) + 32 : 32;
    }
    std::uint8_t* ql = dst;
    std::uint8_t* qh = dst + 128;
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32) {
      const int* qv = q + 128 * half;
      for (int l = 0; l < 32; ++l) {
        ql[l] = static_cast<std::uint8_t>((qv[l] & 0xF) | ((qv[l + 64] & 0xF) << 4));
        ql[l + 32] = static_cast<std::uint8_t>((qv[l + 32] & 0xF) | ((qv[l + 96] & 0xF) << 4));
        qh[l] = static_cast<std::uint8_t>((qv[l] >> 4) | ((qv[l + 32] >> 4) << 2) |
                                          ((qv[l + 64] >> 4) << 4) | ((qv[l + 96] >> 4) << 6));
      }
    }
    for (int i = 0; i < 16; ++i) dst[192 + i] = static_cast<std::uint8_t>(sc[i]);
    store_u16(dst + 208, float_to_fp16(d));
  }
}

namespace {
// sum W[i] x[i] for a row of super-blocks of kBytes, each unpacked by Unpack.
template <void (*Unpack)(const std::uint8_t*, float*), std::size_t kBytes>
float dot_k_f32(const std::uint8_t* w, const float* x, int n) {
  alignas(32) float buf[kQkK];
  float acc = 0;
  for (int b = 0; b < n / kQkK; ++b) {
    Unpack(w + b * kBytes, buf);
    acc += dot_f32(buf, x + b * kQkK, kQkK);
  }
  return acc;
}
}  // namespace

float dot_q4_k_f32(const std::uint8_t* w, const float* x, int n) {
  return dot_k_f32<q4_k_block, kQ4KBytes>(w, x, n);
}

float dot_q6_k_f32(const std::uint8_t* w, const float* x, int n) {
  return dot_k_f32<q6_k_block, kQ6KBytes>(w, x, n);
}

float dot_q5_k_f32(const std::uint8_t* w, const float* x, int n) {
  return dot_k_f32<q5_k_block, kQ5KBytes>(w, x, n);
}

float dot_q3_k_f32(const std::uint8_t* w, const float* x, int n) {
  return dot_k_f32<q3_k_block, kQ3KBytes>(w, x, n);
}

float dot_q2_k_f32(const std::uint8_t* w, const float* x, int n) {
  return dot_k_f32<q2_k_block, kQ2KBytes>(w, x, n);
}

}  // namespace gearbox::serve
