#include "gearbox/gnn/graph_cache.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>

#include <unistd.h>

#include "gearbox/core/paths.hpp"

namespace gearbox::gnn {

namespace fs = std::filesystem;

namespace {
struct Header {
  char magic[8];
  std::uint32_t version;
  std::int32_t rows, cols;
  std::uint32_t pad;
  std::int64_t nnz;
  std::uint64_t checksum;
};
constexpr char kMagic[8] = {'G', 'B', 'C', 'S', 'R', 0, 0, 1};

std::uint64_t fnv(std::uint64_t h, const void* data, std::size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {  // word at a time: fast on 100s of MB
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 1099511628211ull;
  }
  for (; i < bytes; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

std::uint64_t payload_checksum(const Csr& a) {
  std::uint64_t h = 1469598103934665603ull;
  h = fnv(h, a.rowptr.data(), a.rowptr.size() * sizeof(offset_t));
  h = fnv(h, a.col.data(), a.col.size() * sizeof(index_t));
  h = fnv(h, a.val.data(), a.val.size() * sizeof(float));
  return h;
}
}  // namespace

fs::path csr_cache_path(const std::string& key) {
  return cache_dir() / "graphs" /
         (std::to_string(fnv(1469598103934665603ull, key.data(), key.size())) + ".csr");
}

bool write_csr_cache(const fs::path& path, const Csr& a) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  Header h{};
  std::memcpy(h.magic, kMagic, 8);
  h.version = kCsrCacheVersion;
  h.rows = a.rows;
  h.cols = a.cols;
  h.nnz = a.nnz();
  h.checksum = payload_checksum(a);
  const fs::path tmp = path.string() + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) return false;
    out.write(reinterpret_cast<const char*>(&h), sizeof h);
    out.write(reinterpret_cast<const char*>(a.rowptr.data()),
              static_cast<std::streamsize>(a.rowptr.size() * sizeof(offset_t)));
    out.write(reinterpret_cast<const char*>(a.col.data()),
              static_cast<std::streamsize>(a.col.size() * sizeof(index_t)));
    out.write(reinterpret_cast<const char*>(a.val.data()),
              static_cast<std::streamsize>(a.val.size() * sizeof(float)));
    if (!out) {
      fs::remove(tmp, ec);
      return false;
    }
  }
  fs::rename(tmp, path, ec);
  return !ec;
}

std::optional<Csr> read_csr_cache(const fs::path& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec || size < sizeof(Header)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  Header h{};
  if (!in.read(reinterpret_cast<char*>(&h), sizeof h)) return std::nullopt;
  if (std::memcmp(h.magic, kMagic, 8) != 0 || h.version != kCsrCacheVersion) return std::nullopt;
  if (h.rows < 0 || h.cols < 0 || h.nnz < 0) return std::nullopt;
  const std::uint64_t want = sizeof(Header) + (static_cast<std::uint64_t>(h.rows) + 1) * 8 +
                             static_cast<std::uint64_t>(h.nnz) * 8;
  if (want != size) return std::nullopt;  // truncated or lying header: sizes must match exactly
  Csr a;
  a.rows = h.rows;
  a.cols = h.cols;
  a.rowptr.resize(static_cast<std::size_t>(h.rows) + 1);
  a.col.resize(static_cast<std::size_t>(h.nnz));
  a.val.resize(static_cast<std::size_t>(h.nnz));
  in.read(reinterpret_cast<char*>(a.rowptr.data()),
          static_cast<std::streamsize>(a.rowptr.size() * sizeof(offset_t)));
  in.read(reinterpret_cast<char*>(a.col.data()),
          static_cast<std::streamsize>(a.col.size() * sizeof(index_t)));
  in.read(reinterpret_cast<char*>(a.val.data()),
          static_cast<std::streamsize>(a.val.size() * sizeof(float)));
  if (!in || payload_checksum(a) != h.checksum) return std::nullopt;
  // Structural sanity, so a checksum collision cannot make kernels read out of bounds.
  if (a.rowptr[0] != 0 || a.rowptr.back() != h.nnz) return std::nullopt;
  for (index_t r = 0; r < a.rows; ++r)
    if (a.rowptr[r + 1] < a.rowptr[r]) return std::nullopt;
  for (index_t c : a.col)
    if (c < 0 || c >= a.cols) return std::nullopt;
  return a;
}

}  // namespace gearbox::gnn
