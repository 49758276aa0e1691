#include "gearbox/core/paths.hpp"

#include <unistd.h>
#include <cstdlib>
#include <system_error>

namespace gearbox {

namespace fs = std::filesystem;

namespace {
std::optional<fs::path> env_path(const char* var) {
  if (const char* v = std::getenv(var); v && *v) return fs::path(v);
  return std::nullopt;
}

std::optional<fs::path> find_shared(const char* sub) {
  std::error_code ec;
  for (const auto& root : search_roots()) {
    for (fs::path p = root; !p.empty(); p = p.parent_path()) {
      const fs::path candidate = p / "shared" / sub;
      if (fs::is_directory(candidate, ec)) return candidate;
      if (p == p.parent_path()) break;
    }
  }
  return std::nullopt;
}
}  // namespace

std::vector<fs::path> search_roots() {
  std::vector<fs::path> roots;
  std::error_code ec;
  roots.push_back(fs::current_path(ec));
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) roots.push_back(fs::path(std::string(buf, static_cast<std::size_t>(n))).parent_path());
#ifdef GEARBOX_SOURCE_DIR
  roots.emplace_back(GEARBOX_SOURCE_DIR);
#endif
  return roots;
}

std::optional<fs::path> data_dir() {
  if (auto p = env_path("GEARBOX_DATA")) return p;
  return find_shared("data");
}

std::optional<fs::path> models_dir() {
  if (auto p = env_path("GEARBOX_MODELS")) return p;
  return find_shared("models");
}

fs::path cache_dir() {
  if (auto p = env_path("GEARBOX_CACHE")) return *p;
  if (auto p = env_path("XDG_CACHE_HOME")) return *p / "gearbox";
  if (auto p = env_path("HOME")) return *p / ".cache" / "gearbox";
  return fs::temp_directory_path() / "gearbox-cache";
}

}  // namespace gearbox
