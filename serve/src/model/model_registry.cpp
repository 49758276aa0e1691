#include "gearbox/serve/model/model_registry.hpp"

#include <algorithm>
#include <cctype>
#include <system_error>

#include "gearbox/core/error.hpp"
#include "gearbox/core/paths.hpp"

namespace gearbox::serve {

namespace fs = std::filesystem;

namespace {
std::string lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

std::vector<fs::path> gguf_files() {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& dir : model_search_dirs()) {
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.is_regular_file(ec) && lower(e.path().extension().string()) == ".gguf")
        out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}
}  // namespace

std::vector<fs::path> model_search_dirs() {
  std::vector<fs::path> dirs;
  if (auto d = models_dir()) dirs.push_back(*d);
  dirs.push_back(cache_dir() / "models");
  return dirs;
}

std::vector<std::string> known_model_names() {
  std::vector<std::string> names;
  for (const auto& p : gguf_files()) names.push_back(p.stem().string());
  return names;
}

fs::path resolve_model(std::string_view name_or_path) {
  std::error_code ec;
  const fs::path as_path(name_or_path);
  if (!name_or_path.empty() && fs::is_regular_file(as_path, ec)) return as_path;
  std::string want = lower(name_or_path);
  if (want.size() > 5 && want.ends_with(".gguf")) want.resize(want.size() - 5);
  const auto files = gguf_files();
  std::vector<fs::path> prefix;
  for (const auto& p : files) {
    const std::string stem = lower(p.stem().string());
    if (stem == want) return p;
    if (!want.empty() && stem.starts_with(want)) prefix.push_back(p);
  }
  if (prefix.size() == 1) return prefix[0];
  std::string known, where;
  for (const auto& n : known_model_names()) known += (known.empty() ? "" : ", ") + n;
  for (const auto& d : model_search_dirs()) where += (where.empty() ? "" : ", ") + d.string();
  Error e = Error::input(prefix.size() > 1 ? "ambiguous model name" : "model not found");
  e.field("model")
      .found(std::string(name_or_path))
      .expected("a .gguf path or one of: " + (known.empty() ? std::string("(none)") : known) +
                " (looked in " + where + "; scripts/fetch-models.sh fetches SmolLM2)");
  throw e;
}

}  // namespace gearbox::serve
