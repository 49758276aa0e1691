// Checking sizes read from input (a header's row count, a generator's node count, a label's
// class count) before allocating for them: against the bytes the input actually holds and
// against the memory this process may still take. A refusal is an Error::input (exit 2) naming
// the file and field, never an allocation that ends in "out of memory" or a swap storm.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace gearbox {

// Bytes this process may still allocate: the least of /proc/meminfo MemAvailable, the headroom
// under RLIMIT_AS (limit - current virtual size) and under RLIMIT_DATA, and the cgroup's
// memory.max - memory.current when set. 8 GiB when none of these can be read.
std::uint64_t available_memory_bytes();

// a * b, saturating at UINT64_MAX instead of wrapping.
std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b);

// A size declared by input data and what allocating for it costs.
struct DeclaredSize {
  std::string file;                           // file (or flag such as "--graph") it came from
  std::string field;                          // field that declared it, e.g. "rows", "sbm:n"
  std::optional<std::uint64_t> line;          // line of the declaration, when known
  std::uint64_t count = 0;                    // items declared
  std::uint64_t bytes_per_item = 0;           // memory each item takes once allocated
  std::uint64_t min_file_bytes_per_item = 0;  // bytes each item needs in the file (0: none)
  std::uint64_t bytes_present = 0;            // bytes of the file left to hold the items
};

// Throws Error::input naming file, line and field when the items cannot be in the bytes present
// (count * min_file_bytes_per_item > bytes_present) or when count * bytes_per_item exceeds
// available_memory_bytes() (or `memory_limit` when nonzero). Returns the bytes to allocate.
std::uint64_t check_declared_size(const DeclaredSize& d, std::uint64_t memory_limit = 0);

// Throws Error::input naming `file` and `field` when `bytes` (an allocation derived from that
// field's value `found`) exceeds available_memory_bytes() (or `memory_limit` when nonzero).
void check_memory(std::uint64_t bytes, const std::string& file, const std::string& field,
                  const std::string& found, std::uint64_t memory_limit = 0);

}  // namespace gearbox
