// Row encodings of the KV cache: f32, and int8 / int4 with per-group fp32 scales.
#include "gearbox/serve/kv/row_codec.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "gearbox/serve/kernels/fp16.hpp"

namespace gearbox::serve::kv {
namespace {

std::size_t groups(int n) {
  return (static_cast<std::size_t>(n) + kKvQuantGroup - 1) / kKvQuantGroup;
}

// Symmetric quantization of x[0..n) with qmax levels each side; writes scales then codes via put.
template <typename Put>
void quantize(const float* x, int n, int qmax, float* scales, Put put) {
  for (std::size_t g = 0; g < groups(n); ++g) {
    const int lo = static_cast<int>(g) * kKvQuantGroup;
    const int hi = std::min(n, lo + kKvQuantGroup);
    float amax = 0;
    for (int i = lo; i < hi; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / static_cast<float>(qmax);
    const float inv = d > 0 ? 1.0f / d : 0.0f;
    std::memcpy(scales + g, &d, sizeof d);
    for (int i = lo; i < hi; ++i) {
      const float q = std::nearbyint(x[i] * inv);
      put(i, static_cast<int>(std::clamp(q, static_cast<float>(-qmax), static_cast<float>(qmax))));
    }
  }
}

}  // namespace

const char* format_name(KvRowFormat f) {
  switch (f) {
    case KvRowFormat::kF32:
      return "f32";
    case KvRowFormat::kF16:
      return "f16";
    case KvRowFormat::kInt8:
      return "int8";
    case KvRowFormat::kInt4:
      return "int4";
  }
  return "?";
}

std::size_t row_bytes(KvRowFormat f, int n) {
  const auto un = static_cast<std::size_t>(n);
  switch (f) {
    case KvRowFormat::kF32:
      return un * sizeof(float);
    case KvRowFormat::kF16:
      return un * sizeof(std::uint16_t);
    case KvRowFormat::kInt8:
      return groups(n) * sizeof(float) + un;
    case KvRowFormat::kInt4:
      return groups(n) * sizeof(float) + (un + 1) / 2;
  }
  return 0;
}

void encode_row(KvRowFormat f, const float* x, int n, std::byte* out) {
  if (f == KvRowFormat::kF32) {
    std::memcpy(out, x, static_cast<std::size_t>(n) * sizeof(float));
    return;
  }
  if (f == KvRowFormat::kF16) {  // staged: `out` may be unaligned for 16-bit values
    std::vector<std::uint16_t> h(static_cast<std::size_t>(n));
    floats_to_fp16(x, h.size(), h.data());
    std::memcpy(out, h.data(), h.size() * sizeof(std::uint16_t));
    return;
  }
  const std::size_t ng = groups(n);
  std::byte* codes = out + ng * sizeof(float);
  std::vector<float> scales(ng);  // `out` may be unaligned for floats: staged, then copied
  if (f == KvRowFormat::kInt8) {
    quantize(x, n, 127, scales.data(),
             [&](int i, int q) { codes[i] = static_cast<std::byte>(static_cast<std::int8_t>(q)); });
  } else {
    std::memset(codes, 0, (static_cast<std::size_t>(n) + 1) / 2);
    quantize(x, n, 7, scales.data(), [&](int i, int q) {
      const auto nib = static_cast<unsigned>(q + 8) & 0xFu;
      auto& b = codes[i / 2];
      b |= static_cast<std::byte>(i % 2 == 0 ? nib : nib << 4);
    });
  }
  std::memcpy(out, scales.data(), ng * sizeof(float));
}

void decode_row(KvRowFormat f, const std::byte* in, int n, float* out) {
  if (f == KvRowFormat::kF32) {
    std::memcpy(out, in, static_cast<std::size_t>(n) * sizeof(float));
    return;
  }
  if (f == KvRowFormat::kF16) {
    for (int i = 0; i < n; ++i) {
      std::uint16_t h;
      std::memcpy(&h, in + 2 * static_cast<std::size_t>(i), sizeof h);
      out[i] = fp16_to_float(h);
    }
    return;
  }
  const std::size_t ng = groups(n);
  const std::byte* codes = in + ng * sizeof(float);
  for (std::size_t g = 0; g < ng; ++g) {
    float d;
    std::memcpy(&d, in + g * sizeof(float), sizeof d);
    const int lo = static_cast<int>(g) * kKvQuantGroup;
    const int hi = std::min(n, lo + kKvQuantGroup);
    if (f == KvRowFormat::kInt8) {
      for (int i = lo; i < hi; ++i)
        out[i] = d * static_cast<float>(static_cast<std::int8_t>(codes[i]));
    } else {
      for (int i = lo; i < hi; ++i) {
        const auto b = static_cast<unsigned>(codes[i / 2]);
        const int q = static_cast<int>(i % 2 == 0 ? (b & 0xFu) : (b >> 4)) - 8;
        out[i] = d * static_cast<float>(q);
      }
    }
  }
}

}  // namespace gearbox::serve::kv
