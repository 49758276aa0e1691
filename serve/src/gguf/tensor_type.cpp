#include "gearbox/serve/gguf/tensor_type.hpp"

#include "gearbox/core/error.hpp"

namespace gearbox::serve {

std::optional<TensorTypeInfo> tensor_type_info(std::uint32_t type_id) {
  switch (static_cast<TensorType>(type_id)) {
    case TensorType::kF32:
      return TensorTypeInfo{"f32", 1, 4};
    case TensorType::kF16:
      return TensorTypeInfo{"f16", 1, 2};
    case TensorType::kBF16:
      return TensorTypeInfo{"bf16", 1, 2};
    case TensorType::kQ4_0:
      return TensorTypeInfo{"q4_0", 32, 18};  // f16 d + 16 bytes
    case TensorType::kQ4_1:
      return TensorTypeInfo{"q4_1", 32, 20};  // f16 d, m + 16 bytes
    case TensorType::kQ5_0:
      return TensorTypeInfo{"q5_0", 32, 22};  // f16 d + u32 high bits + 16 bytes
    case TensorType::kQ5_1:
      return TensorTypeInfo{"q5_1", 32, 24};  // f16 d, m + u32 high bits + 16 bytes
    case TensorType::kQ8_0:
      return TensorTypeInfo{"q8_0", 32, 34};  // f16 d + 32 int8
    case TensorType::kQ2_K:
      return TensorTypeInfo{"q2_k", 256, 84};
    case TensorType::kQ3_K:
      return TensorTypeInfo{"q3_k", 256, 110};
    case TensorType::kQ4_K:
      return TensorTypeInfo{"q4_k", 256, 144};
    case TensorType::kQ5_K:
      return TensorTypeInfo{"q5_k", 256, 176};
    case TensorType::kQ6_K:
      return TensorTypeInfo{"q6_k", 256, 210};
  }
  return std::nullopt;
}

std::string tensor_type_name(std::uint32_t type_id) {
  if (auto info = tensor_type_info(type_id)) return info->name;
  return "type#" + std::to_string(type_id);
}

std::size_t tensor_bytes(TensorType type, std::size_t n) {
  const auto info = tensor_type_info(static_cast<std::uint32_t>(type));
  if (!info)
    throw Error::input("unsupported tensor type")
        .found(tensor_type_name(static_cast<std::uint32_t>(type)));
  if (n % info->block_elems != 0)
    throw Error::input("element count not a multiple of the block size")
        .expected("multiple of " + std::to_string(info->block_elems))
        .found(std::to_string(n));
  return n / info->block_elems * info->block_bytes;
}

}  // namespace gearbox::serve
