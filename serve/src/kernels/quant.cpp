// Block formats (GGML's): Q4_0 {f16 d; u8 qs[16]}: x = d * (q - 8); Q4_1 {f16 d, m; u8 qs[16]}:
// x = d * q + m; Q8_0 {f16 d; i8 qs[32]}: x = d * q. In a 4-bit block, byte j holds element j
// in its low nibble and element j + 16 in its high nibble. Q5_0 {f16 d; u32 qh; u8 qs[16]}:
// x = d * (q - 16) and Q5_1 {f16 d, m; u32 qh; u8 qs[16]}: x = d * q + m, with q's fifth bit
// for element j in bit j of qh (little-endian).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "gearbox/core/error.hpp"
#include "gearbox/serve/kernels/fp16.hpp"
#include "gearbox/serve/kernels/kquant.hpp"
#include "gearbox/serve/kernels/matmul.hpp"

namespace gearbox::serve {

void dequantize_row(TensorType type, const std::uint8_t* src, float* dst, int n) {
  switch (type) {
    case TensorType::kF32:
      std::memcpy(dst, src, static_cast<std::size_t>(n) * 4);
      return;
    case TensorType::kF16:
      for (int i = 0; i < n; ++i) dst[i] = fp16_to_float(load_u16(src + 2 * i));
      return;
    case TensorType::kBF16:
      for (int i = 0; i < n; ++i) dst[i] = bf16_to_float(load_u16(src + 2 * i));
      return;
    case TensorType::kQ4_0:
      for (int b = 0; b < n / 32; ++b, src += 18, dst += 32) {
        const float d = fp16_to_float(load_u16(src));
        for (int j = 0; j < 16; ++j) {
          dst[j] = d * static_cast<float>((src[2 + j] & 0xF) - 8);
          dst[j + 16] = d * static_cast<float>((src[2 + j] >> 4) - 8);
        }
      }
      return;
    case TensorType::kQ4_1:
      for (int b = 0; b < n / 32; ++b, src += 20, dst += 32) {
        const float d = fp16_to_float(load_u16(src)), m = fp16_to_float(load_u16(src + 2));
        for (int j = 0; j < 16; ++j) {
          dst[j] = d * static_cast<float>(src[4 + j] & 0xF) + m;
          dst[j + 16] = d * static_cast<float>(src[4 + j] >> 4) + m;
        }
      }
      return;
    case TensorType::kQ5_0:
    case TensorType::kQ5_1: {
      const bool q51 = type == TensorType::kQ5_1;
      const int qh_at = q51 ? 4 : 2, bytes = q51 ? 24 : 22;
      for (int b = 0; b < n / 32; ++b, src += bytes, dst += 32) {
        const float d = fp16_to_float(load_u16(src));
        const float m = q51 ? fp16_to_float(load_u16(src + 2)) : 0.0f;
        const int off = q51 ? 0 : 16;
        std::uint32_t qh;
        std::memcpy(&qh, src + qh_at, 4);
        const std::uint8_t* qs = src + qh_at + 4;
        for (int j = 0; j < 16; ++j) {
          const int lo = (qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1) << 4);
          const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
          dst[j] = d * static_cast<float>(lo - off) + m;
          dst[j + 16] = d * static_cast<float>(hi - off) + m;
        }
      }
      return;
    }
    case TensorType::kQ8_0:
      for (int b = 0; b < n / 32; ++b, src += 34, dst += 32) {
        const float d = fp16_to_float(load_u16(src));
        for (int j = 0; j < 32; ++j)
          dst[j] = d * static_cast<float>(static_cast<std::int8_t>(src[2 + j]));
      }
      return;
    case TensorType::kQ4_K:
      dequantize_row_q4_k(src, dst, n);
      return;
    case TensorType::kQ6_K:
      dequantize_row_q6_k(src, dst, n);
      return;
    case TensorType::kQ5_K:
      dequantize_row_q5_k(src, dst, n);
      return;
    case TensorType::kQ3_K:
      dequantize_row_q3_k(src, dst, n);
      return;
    case TensorType::kQ2_K:
      dequantize_row_q2_k(src, dst, n);
      return;
    default:
      break;
  }
  throw Error::input("cannot dequantize this tensor type")
      .found(tensor_type_name(static_cast<std::uint32_t>(type)));
}

void quantize_row_q8_0(const float* x, std::uint8_t* dst, int n) {
  for (int b = 0; b < n / 32; ++b, x += 32, dst += 34) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f, id = amax != 0 ? 127.0f / amax : 0.0f;
    store_u16(dst, float_to_fp16(d));
    for (int j = 0; j < 32; ++j)
      dst[2 + j] = static_cast<std::uint8_t>(static_cast<std::int8_t>(std::nearbyint(x[j] * id)));
  }
}

void quantize_row_q8_1(const float* x, std::uint8_t* dst, int n) {
  for (int b = 0; b < n / 32; ++b, x += 32, dst += 36) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f, id = amax != 0 ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      const int q = static_cast<int>(std::nearbyint(x[j] * id));
      dst[4 + j] = static_cast<std::uint8_t>(static_cast<std::int8_t>(q));
      sum += q;
    }
    store_u16(dst, float_to_fp16(d));
    store_u16(dst + 2, float_to_fp16(d * static_cast<float>(sum)));
  }
}

void quantize_row(TensorType type, const float* x, std::uint8_t* dst, int n) {
  switch (type) {
    case TensorType::kQ8_0:
      for (int b = 0; b < n / 32; ++b, x += 32, dst += 34) {
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        store_u16(dst, float_to_fp16(d));
        for (int j = 0; j < 32; ++j)
          dst[2 + j] = static_cast<std::uint8_t>(static_cast<std::int8_t>(std::round(x[j] * id)));
      }
      return;
    case TensorType::kQ4_0:
      for (int b = 0; b < n / 32; ++b, x += 32, dst += 18) {
        float amax = 0, max = 0;
        for (int j = 0; j < 32; ++j)
          if (std::fabs(x[j]) > amax) amax = std::fabs(x[j]), max = x[j];
        const float d = max / -8.0f, id = d != 0 ? 1.0f / d : 0.0f;
        store_u16(dst, float_to_fp16(d));
        for (int j = 0; j < 16; ++j) {
          const int a = std::min(15, static_cast<int>(x[j] * id + 8.5f));
          const int c = std::min(15, static_cast<int>(x[j + 16] * id + 8.5f));
          dst[2 + j] = static_cast<std::uint8_t>(a | (c << 4));
        }
      }
      return;
    case TensorType::kQ4_1:
      for (int b = 0; b < n / 32; ++b, x += 32, dst += 20) {
        float lo = x[0], hi = x[0];
        for (int j = 1; j < 32; ++j) lo = std::min(lo, x[j]), hi = std::max(hi, x[j]);
        const float d = (hi - lo) / 15.0f, id = d != 0 ? 1.0f / d : 0.0f;
        store_u16(dst, float_to_fp16(d));
        store_u16(dst + 2, float_to_fp16(lo));
        for (int j = 0; j < 16; ++j) {
          const int a = std::min(15, static_cast<int>((x[j] - lo) * id + 0.5f));
          const int c = std::min(15, static_cast<int>((x[j + 16] - lo) * id + 0.5f));
          dst[4 + j] = static_cast<std::uint8_t>(a | (c << 4));
        }
      }
      return;
    case TensorType::kQ4_K:
      quantize_row_q4_k(x, dst, n);
      return;
    case TensorType::kQ6_K:
      quantize_row_q6_k(x, dst, n);
      return;
    default:
      break;
  }
  throw Error::usage("cannot quantize to this type")
      .found(tensor_type_name(static_cast<std::uint32_t>(type)));
}

}  // namespace gearbox::serve
