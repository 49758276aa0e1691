// A GGUF (v2/v3) model file, memory-mapped and validated: metadata key/values, tensor infos
// and their data. Every count, length, offset and size is checked against the file before
// use; a malformed file throws gearbox::Error (kind input) naming the field and byte offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gearbox/serve/gguf/tensor_type.hpp"

namespace gearbox::serve {

// GGUF metadata value types (on-disk ids).
enum class GgufValueType : std::uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};

// One metadata value. Arrays hold scalars or strings (nested arrays are rejected).
struct GgufValue {
  GgufValueType type = GgufValueType::kU8;
  GgufValueType elem_type = GgufValueType::kU8;  // for arrays
  std::variant<std::uint64_t, std::int64_t, double, bool, std::string, std::vector<std::string>,
               std::vector<double>>
      data;

  bool is_array() const { return type == GgufValueType::kArray; }
};

struct GgufTensor {
  std::string name;
  std::vector<std::uint64_t> dims;  // GGML order: dims[0] is the contiguous (row) length
  std::uint32_t type_id = 0;
  std::uint64_t offset = 0;  // relative to the data section
  std::uint64_t n_elements = 0;
  std::uint64_t n_bytes = 0;
  const std::uint8_t* data = nullptr;  // into the mapping; valid while the GgufFile lives

  TensorType type() const { return static_cast<TensorType>(type_id); }
  // Row length (dims[0]) and number of rows (product of the other dims).
  std::uint64_t row_len() const { return dims.empty() ? 1 : dims[0]; }
  std::uint64_t n_rows() const { return row_len() ? n_elements / row_len() : 0; }
};

class GgufFile {
 public:
  // Memory-maps and parses `path`. Throws Error::input for malformed content (naming field and
  // offset) and Error::runtime when the file cannot be opened or mapped.
  static std::shared_ptr<GgufFile> open(const std::filesystem::path& path);
  // Parses a GGUF image held in memory (copied); `origin` names it in errors. For tests/fuzzing.
  static std::shared_ptr<GgufFile> parse(std::span<const std::uint8_t> bytes,
                                         std::string origin = "<memory>");

  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  std::uint32_t version() const { return version_; }
  const std::string& origin() const { return origin_; }
  std::size_t alignment() const { return alignment_; }
  std::size_t size_bytes() const { return size_; }
  const std::map<std::string, GgufValue, std::less<>>& metadata() const { return kv_; }
  const std::vector<GgufTensor>& tensors() const { return tensors_; }

  // Metadata lookups; nullptr/nullopt when absent. Typed getters throw Error::input naming
  // the key when present with the wrong type.
  const GgufValue* find(std::string_view key) const;
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<std::int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  const std::vector<std::string>* get_string_array(std::string_view key) const;
  const std::vector<double>* get_number_array(std::string_view key) const;

  // The tensor named `name`; nullptr when absent.
  const GgufTensor* find_tensor(std::string_view name) const;
  // As find_tensor() but throws Error::input naming the tensor when absent.
  const GgufTensor& tensor(std::string_view name) const;

 private:
  GgufFile() = default;
  void parse_image();

  std::string origin_;
  const std::uint8_t* base_ = nullptr;
  std::size_t size_ = 0;
  void* mapping_ = nullptr;          // mmap'd region (or nullptr)
  std::vector<std::uint8_t> owned_;  // in-memory image (parse())
  std::uint32_t version_ = 0;
  std::size_t alignment_ = 32;
  std::map<std::string, GgufValue, std::less<>> kv_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, std::size_t, std::less<>> tensor_index_;
};

}  // namespace gearbox::serve
