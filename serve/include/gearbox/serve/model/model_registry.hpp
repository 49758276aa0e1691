// Model names: "stories260K" or "SmolLM2-135M-Instruct" resolve to GGUF files in
// models_dir() (shared/models) and cache_dir()/models (fetched by scripts/fetch-models.sh).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace gearbox::serve {

// The folders searched for model names, in order.
std::vector<std::filesystem::path> model_search_dirs();
// Names of the models found there (file stems of *.gguf, plus their short aliases).
std::vector<std::string> known_model_names();
// A path to an existing file is returned as is; otherwise `name_or_path` is matched
// (case-insensitively, with or without .gguf, or as a unique prefix) against the GGUF files
// in model_search_dirs(). Throws Error::input listing the known names and where it looked.
std::filesystem::path resolve_model(std::string_view name_or_path);

}  // namespace gearbox::serve
