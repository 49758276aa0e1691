// Where a test finds a model file fetched by scripts/fetch-models.sh: the first of
// model_search_dirs() that holds `file`, or nullopt (for GEARBOX_REQUIRE_FILE).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "gearbox/serve/model/model_registry.hpp"

namespace gearbox::serve::testing {

inline std::optional<std::filesystem::path> find_model_file(const std::string& file) {
  for (const auto& d : model_search_dirs())
    if (std::filesystem::exists(d / file)) return d / file;
  return std::nullopt;
}

}  // namespace gearbox::serve::testing
