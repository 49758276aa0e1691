// Binary CSR cache: a versioned header (magic, version, sizes, FNV-1a checksum of the payload)
// followed by rowptr, col and val. A cache file that is stale, truncated or corrupt is ignored
// (and rewritten by the caller), never trusted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "gearbox/gnn/csr.hpp"

namespace gearbox::gnn {

inline constexpr std::uint32_t kCsrCacheVersion = 1;

// Writes `a` to `path` atomically (temp file + rename); false if it could not be written.
bool write_csr_cache(const std::filesystem::path& path, const Csr& a);

// Reads a cache file; nullopt when missing, of another version, truncated, or corrupt.
std::optional<Csr> read_csr_cache(const std::filesystem::path& path);

// The cache file for a source file (keyed by absolute path, size and mtime) or a spec.
std::filesystem::path csr_cache_path(const std::string& key);

}  // namespace gearbox::gnn
