// GGUF parsing with every read bounds-checked. Layout (little-endian):
//   magic "GGUF", u32 version (2|3), u64 n_tensors, u64 n_kv,
//   n_kv x { string key, u32 type, value },  n_tensors x { string name, u32 n_dims,
//   u64 dims[n_dims], u32 type, u64 offset }, padding to `general.alignment`, tensor data.
// A string is u64 length + bytes; an array is u32 element type + u64 count + elements.
#include "gearbox/serve/gguf/gguf_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <limits>

#include "gearbox/core/error.hpp"

namespace gearbox::serve {

namespace {

constexpr std::uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr std::uint32_t kMaxDims = 4;
constexpr std::uint64_t kMaxKeyLen = 65536;

std::size_t scalar_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::kU8:
    case GgufValueType::kI8:
    case GgufValueType::kBool:
      return 1;
    case GgufValueType::kU16:
    case GgufValueType::kI16:
      return 2;
    case GgufValueType::kU32:
    case GgufValueType::kI32:
    case GgufValueType::kF32:
      return 4;
    case GgufValueType::kU64:
    case GgufValueType::kI64:
    case GgufValueType::kF64:
      return 8;
    default:
      return 0;
  }
}

const char* value_type_name(GgufValueType t) {
  switch (t) {
    case GgufValueType::kU8:
      return "u8";
    case GgufValueType::kI8:
      return "i8";
    case GgufValueType::kU16:
      return "u16";
    case GgufValueType::kI16:
      return "i16";
    case GgufValueType::kU32:
      return "u32";
    case GgufValueType::kI32:
      return "i32";
    case GgufValueType::kF32:
      return "f32";
    case GgufValueType::kBool:
      return "bool";
    case GgufValueType::kString:
      return "string";
    case GgufValueType::kArray:
      return "array";
    case GgufValueType::kU64:
      return "u64";
    case GgufValueType::kI64:
      return "i64";
    case GgufValueType::kF64:
      return "f64";
  }
  return "unknown";
}

// A cursor over the image that refuses to read past its end.
class Reader {
 public:
  Reader(const std::uint8_t* base, std::size_t size, const std::string& origin)
      : base_(base), size_(size), origin_(origin) {}

  std::size_t pos() const { return pos_; }
  std::size_t remaining() const { return size_ - pos_; }

  Error error(const std::string& field, const std::string& msg, std::size_t at) const {
    Error e = Error::input(msg);
    e.at_offset(origin_, at).field(field);
    return e;
  }

  void need(std::uint64_t n, const std::string& field) const {
    if (n > remaining())
      throw error(field, "truncated file", pos_)
          .expected(std::to_string(n) + " more bytes")
          .found(std::to_string(remaining()));
  }

  template <class T>
  T read(const std::string& field) {
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string string(const std::string& field, std::uint64_t max_len) {
    const std::size_t at = pos_;
    const auto len = read<std::uint64_t>(field + " (length)");
    if (len > max_len)
      throw error(field, "string too long", at)
          .expected("at most " + std::to_string(max_len) + " bytes")
          .found(std::to_string(len));
    need(len, field);
    std::string s(reinterpret_cast<const char*>(base_ + pos_), static_cast<std::size_t>(len));
    pos_ += static_cast<std::size_t>(len);
    return s;
  }

  // A count of items each taking at least `min_item_bytes`, checked against what remains.
  std::uint64_t count(const std::string& field, std::uint64_t min_item_bytes) {
    const std::size_t at = pos_;
    const auto n = read<std::uint64_t>(field);
    if (min_item_bytes && n > remaining() / min_item_bytes)
      throw error(field, "count larger than the file can hold", at)
          .expected("at most " + std::to_string(remaining() / min_item_bytes))
          .found(std::to_string(n));
    return n;
  }

 private:
  const std::uint8_t* base_;
  std::size_t size_;
  std::size_t pos_ = 0;
  const std::string& origin_;
};

double read_scalar_as_double(Reader& r, GgufValueType t, const std::string& field) {
  switch (t) {
    case GgufValueType::kU8:
      return r.read<std::uint8_t>(field);
    case GgufValueType::kI8:
      return r.read<std::int8_t>(field);
    case GgufValueType::kU16:
      return r.read<std::uint16_t>(field);
    case GgufValueType::kI16:
      return r.read<std::int16_t>(field);
    case GgufValueType::kU32:
      return r.read<std::uint32_t>(field);
    case GgufValueType::kI32:
      return r.read<std::int32_t>(field);
    case GgufValueType::kF32:
      return r.read<float>(field);
    case GgufValueType::kBool:
      return r.read<std::uint8_t>(field) ? 1.0 : 0.0;
    case GgufValueType::kU64:
      return static_cast<double>(r.read<std::uint64_t>(field));
    case GgufValueType::kI64:
      return static_cast<double>(r.read<std::int64_t>(field));
    case GgufValueType::kF64:
      return r.read<double>(field);
    default:
      return 0;
  }
}

bool is_valid_type(std::uint32_t t) {
  return t <= static_cast<std::uint32_t>(GgufValueType::kF64);
}

GgufValue read_value(Reader& r, GgufValueType type, const std::string& key) {
  GgufValue v;
  v.type = type;
  switch (type) {
    case GgufValueType::kU8:
      v.data = std::uint64_t{r.read<std::uint8_t>(key)};
      break;
    case GgufValueType::kU16:
      v.data = std::uint64_t{r.read<std::uint16_t>(key)};
      break;
    case GgufValueType::kU32:
      v.data = std::uint64_t{r.read<std::uint32_t>(key)};
      break;
    case GgufValueType::kU64:
      v.data = r.read<std::uint64_t>(key);
      break;
    case GgufValueType::kI8:
      v.data = std::int64_t{r.read<std::int8_t>(key)};
      break;
    case GgufValueType::kI16:
      v.data = std::int64_t{r.read<std::int16_t>(key)};
      break;
    case GgufValueType::kI32:
      v.data = std::int64_t{r.read<std::int32_t>(key)};
      break;
    case GgufValueType::kI64:
      v.data = r.read<std::int64_t>(key);
      break;
    case GgufValueType::kF32:
      v.data = double{r.read<float>(key)};
      break;
    case GgufValueType::kF64:
      v.data = r.read<double>(key);
      break;
    case GgufValueType::kBool: {
      const std::size_t at = r.pos();
      const auto b = r.read<std::uint8_t>(key);
      if (b > 1) throw r.error(key, "bad bool", at).expected("0 or 1").found(std::to_string(b));
      v.data = b == 1;
      break;
    }
    case GgufValueType::kString:
      v.data = r.string(key, std::numeric_limits<std::uint64_t>::max());
      break;
    case GgufValueType::kArray: {
      const std::size_t at = r.pos();
      const auto et = r.read<std::uint32_t>(key + " (array element type)");
      if (!is_valid_type(et) || et == static_cast<std::uint32_t>(GgufValueType::kArray))
        throw r.error(key, "bad array element type", at)
            .expected("a scalar or string type (0..12, not 9)")
            .found(std::to_string(et));
      v.elem_type = static_cast<GgufValueType>(et);
      if (v.elem_type == GgufValueType::kString) {
        const auto n = r.count(key + " (array count)", 8);
        std::vector<std::string> out;
        out.reserve(static_cast<std::size_t>(n));
        for (std::uint64_t i = 0; i < n; ++i)
          out.push_back(r.string(key + "[" + std::to_string(i) + "]",
                                 std::numeric_limits<std::uint64_t>::max()));
        v.data = std::move(out);
      } else {
        const auto n = r.count(key + " (array count)", scalar_size(v.elem_type));
        std::vector<double> out;
        out.reserve(static_cast<std::size_t>(n));
        for (std::uint64_t i = 0; i < n; ++i)
          out.push_back(read_scalar_as_double(r, v.elem_type, key));
        v.data = std::move(out);
      }
      break;
    }
  }
  return v;
}

}  // namespace

GgufFile::~GgufFile() {
  if (mapping_) munmap(mapping_, size_);
}

std::shared_ptr<GgufFile> GgufFile::open(const std::filesystem::path& path) {
  std::shared_ptr<GgufFile> f(new GgufFile());
  f->origin_ = path.string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw Error::runtime(std::string("cannot open model file: ") + std::strerror(errno))
        .at(f->origin_);
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error::input("not a regular file").at(f->origin_);
  }
  f->size_ = static_cast<std::size_t>(st.st_size);
  if (f->size_ == 0) {
    ::close(fd);
    throw Error::input("empty file").at_offset(f->origin_, 0).field("magic").expected("\"GGUF\"");
  }
  void* m = mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED)
    throw Error::runtime(std::string("cannot map model file: ") + std::strerror(errno))
        .at(f->origin_);
  f->mapping_ = m;
  f->base_ = static_cast<const std::uint8_t*>(m);
  f->parse_image();
  return f;
}

std::shared_ptr<GgufFile> GgufFile::parse(std::span<const std::uint8_t> bytes, std::string origin) {
  std::shared_ptr<GgufFile> f(new GgufFile());
  f->origin_ = std::move(origin);
  // Keep at least one byte so base_ is never null; size_ is the real length.
  f->owned_.assign(bytes.begin(), bytes.end());
  f->owned_.reserve(f->owned_.size() + 1);
  f->base_ = f->owned_.data();
  f->size_ = bytes.size();
  f->parse_image();
  return f;
}

void GgufFile::parse_image() {
  Reader r(base_, size_, origin_);
  const auto magic = r.read<std::uint32_t>("magic");
  if (magic != kMagic) {
    std::string found(reinterpret_cast<const char*>(&magic), 4);
    for (auto& c : found)
      if (c < 32 || c > 126) c = '?';
    throw r.error("magic", "not a GGUF file", 0).expected("\"GGUF\"").found("\"" + found + "\"");
  }
  version_ = r.read<std::uint32_t>("version");
  if (version_ != 2 && version_ != 3)
    throw r.error("version", "unsupported GGUF version", 4)
        .expected("2 or 3")
        .found(std::to_string(version_));
  // Minimal sizes: a tensor info is >= 8+4+4+8 bytes, a key/value >= 8+4+1.
  const auto n_tensors = r.count("tensor_count", 24);
  const auto n_kv = r.count("metadata_kv_count", 13);

  for (std::uint64_t i = 0; i < n_kv; ++i) {
    const std::size_t at = r.pos();
    std::string key = r.string("metadata key #" + std::to_string(i), kMaxKeyLen);
    if (key.empty()) throw r.error("metadata key #" + std::to_string(i), "empty key", at);
    const std::size_t type_at = r.pos();
    const auto t = r.read<std::uint32_t>(key + " (type)");
    if (!is_valid_type(t))
      throw r.error(key, "bad metadata value type", type_at)
          .expected("0..12")
          .found(std::to_string(t));
    GgufValue v = read_value(r, static_cast<GgufValueType>(t), key);
    if (kv_.count(key)) throw r.error(key, "duplicate metadata key", at);
    kv_.emplace(std::move(key), std::move(v));
  }

  if (const GgufValue* a = find("general.alignment")) {
    const auto* u = std::get_if<std::uint64_t>(&a->data);
    const std::uint64_t al = u ? *u : 0;
    if (!u || al == 0 || (al & (al - 1)) != 0 || al > (1u << 20))
      throw Error::input("alignment must be a power of two up to 1 MiB")
          .at(origin_)
          .field("general.alignment")
          .found(u ? std::to_string(al) : std::string(value_type_name(a->type)));
    alignment_ = static_cast<std::size_t>(al);
  }

  tensors_.reserve(static_cast<std::size_t>(n_tensors));
  std::vector<std::size_t> info_at;
  for (std::uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    const std::size_t at = r.pos();
    info_at.push_back(at);
    t.name = r.string("tensor #" + std::to_string(i) + " name", kMaxKeyLen);
    const std::string fld = "tensor '" + t.name + "'";
    const std::size_t nd_at = r.pos();
    const auto n_dims = r.read<std::uint32_t>(fld + " n_dims");
    if (n_dims == 0 || n_dims > kMaxDims)
      throw r.error(fld + " n_dims", "bad number of dimensions", nd_at)
          .expected("1.." + std::to_string(kMaxDims))
          .found(std::to_string(n_dims));
    std::uint64_t n = 1;
    for (std::uint32_t d = 0; d < n_dims; ++d) {
      const std::size_t d_at = r.pos();
      const auto dim = r.read<std::uint64_t>(fld + " dims[" + std::to_string(d) + "]");
      if (dim == 0 || dim > (std::uint64_t{1} << 40) || n > (std::uint64_t{1} << 50) / dim)
        throw r.error(fld + " dims[" + std::to_string(d) + "]", "bad dimension", d_at)
            .expected("1..2^40 with at most 2^50 elements in all")
            .found(std::to_string(dim));
      n *= dim;
      t.dims.push_back(dim);
    }
    t.n_elements = n;
    const std::size_t type_at = r.pos();
    t.type_id = r.read<std::uint32_t>(fld + " type");
    const auto info = tensor_type_info(t.type_id);
    if (!info)
      throw r.error(fld + " type", "unsupported tensor type", type_at)
          .expected("f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q2_k..q6_k")
          .found(tensor_type_name(t.type_id));
    if (t.dims[0] % info->block_elems != 0)
      throw r.error(fld + " dims[0]", "row length not a multiple of the block size", type_at)
          .expected("multiple of " + std::to_string(info->block_elems))
          .found(std::to_string(t.dims[0]));
    t.n_bytes = n / info->block_elems * info->block_bytes;
    const std::size_t off_at = r.pos();
    t.offset = r.read<std::uint64_t>(fld + " offset");
    if (t.offset % alignment_ != 0)
      throw r.error(fld + " offset", "tensor offset not aligned", off_at)
          .expected("multiple of " + std::to_string(alignment_))
          .found(std::to_string(t.offset));
    if (tensor_index_.count(t.name)) throw r.error(fld + " name", "duplicate tensor name", at);
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  // Data section: the next multiple of the alignment (the file may end right there when
  // there are no tensors).
  const std::size_t data_start = (r.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (!tensors_.empty() && data_start > size_)
    throw r.error("tensor data", "truncated file: no data section", r.pos())
        .expected("data at offset " + std::to_string(data_start))
        .found(std::to_string(size_) + " bytes");
  const std::uint64_t data_size = data_start <= size_ ? size_ - data_start : 0;
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    auto& t = tensors_[i];
    if (t.offset > data_size || t.n_bytes > data_size - t.offset)
      throw r
          .error("tensor '" + t.name + "' offset", "tensor data extends past the end of file",
                 info_at[i])
          .expected("offset + size <= " + std::to_string(data_size))
          .found(std::to_string(t.offset) + " + " + std::to_string(t.n_bytes));
    t.data = base_ + data_start + t.offset;
  }
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

namespace {
Error wrong_type(const std::string& origin, std::string_view key, const char* want,
                 const GgufValue& v) {
  Error e = Error::input("metadata value of the wrong type");
  e.at(origin).field(std::string(key)).expected(want).found(value_type_name(v.type));
  return e;
}
}  // namespace

std::optional<std::string> GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (const auto* s = std::get_if<std::string>(&v->data)) return *s;
  throw wrong_type(origin_, key, "string", *v);
}

std::optional<std::int64_t> GgufFile::get_int(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (const auto* u = std::get_if<std::uint64_t>(&v->data)) {
    if (*u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      throw Error::input("integer out of range")
          .at(origin_)
          .field(std::string(key))
          .found(std::to_string(*u));
    return static_cast<std::int64_t>(*u);
  }
  if (const auto* i = std::get_if<std::int64_t>(&v->data)) return *i;
  throw wrong_type(origin_, key, "integer", *v);
}

std::optional<double> GgufFile::get_float(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (const auto* d = std::get_if<double>(&v->data)) return *d;
  if (const auto* u = std::get_if<std::uint64_t>(&v->data)) return static_cast<double>(*u);
  if (const auto* i = std::get_if<std::int64_t>(&v->data)) return static_cast<double>(*i);
  throw wrong_type(origin_, key, "number", *v);
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (const auto* b = std::get_if<bool>(&v->data)) return *b;
  throw wrong_type(origin_, key, "bool", *v);
}

const std::vector<std::string>* GgufFile::get_string_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return nullptr;
  if (const auto* a = std::get_if<std::vector<std::string>>(&v->data)) return a;
  throw wrong_type(origin_, key, "array of strings", *v);
}

const std::vector<double>* GgufFile::get_number_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return nullptr;
  if (const auto* a = std::get_if<std::vector<double>>(&v->data)) return a;
  throw wrong_type(origin_, key, "array of numbers", *v);
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensor& GgufFile::tensor(std::string_view name) const {
  if (const auto* t = find_tensor(name)) return *t;
  throw Error::input("tensor missing").at(origin_).field(std::string(name));
}

}  // namespace gearbox::serve
