// Where gearbox finds its inputs: shared data (graphs, traces), models, and its own cache.
// Data is read in place at run time, never copied into the repository.
#pragma once

#include <filesystem>
#include <optional>
#include <vector>

namespace gearbox {

// The shared data folder (holding graphs/ and crius/): $GEARBOX_DATA if set, else the first
// `shared/data` found walking up from the current directory, the executable's folder and the
// source tree. nullopt when none exists.
std::optional<std::filesystem::path> data_dir();

// The models folder: $GEARBOX_MODELS if set, else `shared/models` found as for data_dir().
std::optional<std::filesystem::path> models_dir();

// gearbox's cache (machine profiles, graph caches, downloaded models): $GEARBOX_CACHE, else
// $XDG_CACHE_HOME/gearbox, else ~/.cache/gearbox. Not created by this call.
std::filesystem::path cache_dir();

// Every place data_dir() and models_dir() look, in order (for error messages and doctor).
std::vector<std::filesystem::path> search_roots();

}  // namespace gearbox
