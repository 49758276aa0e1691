// How one cached row (kv_dim floats of K or V) is stored: f32 as is, fp16 (round to nearest
// even; attention reads it directly, as llama.cpp's default cache), or int8 / int4 symmetric
// quantization with one fp32 scale per group of kKvQuantGroup consecutive values (the last
// group may be shorter). int8: q = round(x / d), d = max|x| / 127; int4: d = max|x| / 7,
// q in [-7, 7], two values per byte (low nibble first). Decoding gives q * d, so the error of
// each value is at most d / 2.
#pragma once

#include <cstddef>

namespace gearbox::serve::kv {

enum class KvRowFormat { kF32, kF16, kInt8, kInt4 };

inline constexpr int kKvQuantGroup = 32;

// "f32", "f16", "int8" or "int4".
const char* format_name(KvRowFormat f);

// Bytes one row of n values takes in format f (scales included).
std::size_t row_bytes(KvRowFormat f, int n);

// Encodes n floats of x into out (row_bytes(f, n) bytes).
void encode_row(KvRowFormat f, const float* x, int n, std::byte* out);

// Decodes a row encoded by encode_row into n floats.
void decode_row(KvRowFormat f, const std::byte* in, int n, float* out);

}  // namespace gearbox::serve::kv
