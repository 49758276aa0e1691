#include "gearbox/core/memory_guard.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <string>

#include "gearbox/core/error.hpp"

namespace gearbox {

namespace {

constexpr std::uint64_t kUnknown = std::numeric_limits<std::uint64_t>::max();

std::uint64_t mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  std::uint64_t kb = 0;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return saturating_mul(kb, 1024);
  return kUnknown;
}

// Pages of /proc/self/statm field `index` (0 = total virtual size, 5 = data + stack), in bytes.
std::uint64_t statm_bytes(int index) {
  std::ifstream in("/proc/self/statm");
  std::uint64_t v = 0;
  for (int i = 0; i <= index; ++i)
    if (!(in >> v)) return 0;
  const long page = ::sysconf(_SC_PAGESIZE);
  return v * static_cast<std::uint64_t>(page > 0 ? page : 4096);
}

std::uint64_t rlimit_headroom(int resource, int statm_index) {
  rlimit rl{};
  if (::getrlimit(resource, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return kUnknown;
  const std::uint64_t used = statm_bytes(statm_index);
  const auto limit = static_cast<std::uint64_t>(rl.rlim_cur);
  return limit > used ? limit - used : 0;
}

std::uint64_t read_number(const char* path) {
  std::ifstream in(path);
  std::uint64_t v = 0;
  if (!(in >> v)) return kUnknown;  // also "max"
  return v;
}

std::uint64_t cgroup_headroom() {
  const std::uint64_t max = read_number("/sys/fs/cgroup/memory.max");
  if (max == kUnknown) return kUnknown;
  const std::uint64_t cur = read_number("/sys/fs/cgroup/memory.current");
  if (cur == kUnknown) return kUnknown;
  return max > cur ? max - cur : 0;
}

}  // namespace

std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a)
    return std::numeric_limits<std::uint64_t>::max();
  return a * b;
}

std::uint64_t available_memory_bytes() {
  const std::uint64_t m = std::min({mem_available(), rlimit_headroom(RLIMIT_AS, 0),
                                    rlimit_headroom(RLIMIT_DATA, 5), cgroup_headroom()});
  return m == kUnknown ? std::uint64_t{8} << 30 : m;
}

void check_memory(std::uint64_t bytes, const std::string& file, const std::string& field,
                  const std::string& found, std::uint64_t memory_limit) {
  const std::uint64_t budget = memory_limit != 0 ? memory_limit : available_memory_bytes();
  if (bytes <= budget) return;
  Error e = Error::input("declared size does not fit in memory");
  if (!file.empty()) e.at(file);
  throw std::move(e.field(field)
                      .expected("at most " + std::to_string(budget) + " bytes available")
                      .found(found + " needing " + std::to_string(bytes) + " bytes"));
}

std::uint64_t check_declared_size(const DeclaredSize& d, std::uint64_t memory_limit) {
  const std::string count = std::to_string(d.count);
  if (d.min_file_bytes_per_item != 0 &&
      saturating_mul(d.count, d.min_file_bytes_per_item) > d.bytes_present) {
    Error e = Error::input("declared size exceeds the data present");
    if (!d.file.empty()) e.at(d.file, d.line);
    throw std::move(e.field(d.field)
                        .expected("at most " +
                                  std::to_string(d.bytes_present / d.min_file_bytes_per_item) +
                                  " (" + std::to_string(d.bytes_present) + " bytes left, " +
                                  std::to_string(d.min_file_bytes_per_item) + " per item)")
                        .found(count));
  }
  const std::uint64_t bytes = saturating_mul(d.count, d.bytes_per_item);
  try {
    check_memory(bytes, d.file, d.field, count, memory_limit);
  } catch (Error& e) {
    if (d.line && !d.file.empty()) e.at(d.file, d.line);
    throw;
  }
  return bytes;
}

}  // namespace gearbox
