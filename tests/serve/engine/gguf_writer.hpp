// Test helper: writes small GGUF v3 images in memory (metadata and tensors), so tests build
// valid files and then break them, or build tiny models with random weights.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace gearbox::serve::testing {

class GgufWriter {
 public:
  void kv_string(const std::string& k, const std::string& v) {
    key(k, 8);
    str(meta_, v);
  }
  void kv_u32(const std::string& k, std::uint32_t v) {
    key(k, 4);
    put(meta_, v);
  }
  void kv_f32(const std::string& k, float v) {
    key(k, 6);
    put(meta_, v);
  }
  void kv_bool(const std::string& k, bool v) {
    key(k, 7);
    meta_.push_back(v ? 1 : 0);
  }
  void kv_strings(const std::string& k, const std::vector<std::string>& v) {
    key(k, 9);
    put(meta_, std::uint32_t{8});
    put(meta_, static_cast<std::uint64_t>(v.size()));
    for (const auto& s : v) str(meta_, s);
  }
  void kv_f32s(const std::string& k, const std::vector<float>& v) {
    key(k, 9);
    put(meta_, std::uint32_t{6});
    put(meta_, static_cast<std::uint64_t>(v.size()));
    for (float x : v) put(meta_, x);
  }
  void kv_i32s(const std::string& k, const std::vector<std::int32_t>& v) {
    key(k, 9);
    put(meta_, std::uint32_t{5});
    put(meta_, static_cast<std::uint64_t>(v.size()));
    for (auto x : v) put(meta_, x);
  }
  // A tensor of GGML type `type` with dims (dims[0] contiguous) and raw block bytes.
  void tensor(const std::string& name, std::vector<std::uint64_t> dims, std::uint32_t type,
              const std::vector<std::uint8_t>& bytes) {
    while (data_.size() % 32) data_.push_back(0);
    str(infos_, name);
    put(infos_, static_cast<std::uint32_t>(dims.size()));
    for (auto d : dims) put(infos_, d);
    put(infos_, type);
    put(infos_, static_cast<std::uint64_t>(data_.size()));
    data_.insert(data_.end(), bytes.begin(), bytes.end());
    ++n_tensors_;
  }
  void tensor_f32(const std::string& name, std::vector<std::uint64_t> dims,
                  const std::vector<float>& v) {
    std::vector<std::uint8_t> b(v.size() * 4);
    std::memcpy(b.data(), v.data(), b.size());
    tensor(name, std::move(dims), 0, b);
  }
  // The whole file image.
  std::vector<std::uint8_t> bytes() const {
    std::vector<std::uint8_t> out = {'G', 'G', 'U', 'F'};
    put(out, std::uint32_t{3});
    put(out, static_cast<std::uint64_t>(n_tensors_));
    put(out, static_cast<std::uint64_t>(n_kv_));
    out.insert(out.end(), meta_.begin(), meta_.end());
    out.insert(out.end(), infos_.begin(), infos_.end());
    while (out.size() % 32) out.push_back(0);
    out.insert(out.end(), data_.begin(), data_.end());
    return out;
  }

 private:
  template <class T>
  static void put(std::vector<std::uint8_t>& b, T v) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
  }
  static void str(std::vector<std::uint8_t>& b, const std::string& s) {
    put(b, static_cast<std::uint64_t>(s.size()));
    b.insert(b.end(), s.begin(), s.end());
  }
  void key(const std::string& k, std::uint32_t type) {
    str(meta_, k);
    put(meta_, type);
    ++n_kv_;
  }
  std::vector<std::uint8_t> meta_, infos_, data_;
  std::size_t n_kv_ = 0, n_tensors_ = 0;
};

}  // namespace gearbox::serve::testing
