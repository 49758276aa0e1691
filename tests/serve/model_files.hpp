// Where the serve tests find a model file: the folders the binary searches for model names
// (models_dir(), i.e. ../shared/models or GEARBOX_MODELS, then cache_dir()/models). Tests
// check the path with GEARBOX_REQUIRE_FILE before loading, so a present file that fails to
// load fails the test instead of skipping it.
#pragma once

#include <filesystem>
#include <string>

#include "gearbox/core/paths.hpp"

namespace gearbox::test {

// The first existing `file_name` (e.g. "SmolLM2-135M-Instruct-Q4_1.gguf") in the model
// folders; when none holds it, where scripts/fetch-models.sh puts it (cache_dir()/models),
// which does not exist, so GEARBOX_REQUIRE_FILE names it.
inline std::filesystem::path find_model_file(const std::string& file_name) {
  std::error_code ec;
  if (auto dir = gearbox::models_dir()) {
    if (std::filesystem::is_regular_file(*dir / file_name, ec)) return *dir / file_name;
  }
  return gearbox::cache_dir() / "models" / file_name;
}

inline constexpr const char* kSmolLmFile = "SmolLM2-135M-Instruct-Q4_1.gguf";

}  // namespace gearbox::test
