// GGML tensor element types as stored in GGUF files, with their block geometry. Quantized
// types pack `block_elems` values into `block_bytes` bytes (a scale and packed integers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace gearbox::serve {

// Values are GGML's on-disk type ids.
enum class TensorType : std::uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kBF16 = 30,
};

struct TensorTypeInfo {
  const char* name;         // "f32", "q4_1", ...
  std::size_t block_elems;  // values per block (1 for float types)
  std::size_t block_bytes;  // bytes per block
};

// Geometry of a type id read from a file; nullopt for ids this engine does not support.
std::optional<TensorTypeInfo> tensor_type_info(std::uint32_t type_id);

// Name of a type id ("q4_1"), or "type#<id>" when unsupported.
std::string tensor_type_name(std::uint32_t type_id);

// Bytes taken by `n` values of `type` (n must be a multiple of the block size).
std::size_t tensor_bytes(TensorType type, std::size_t n);

}  // namespace gearbox::serve
