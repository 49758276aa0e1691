// Paths of the shared graphs the gnn tests train on, for GEARBOX_REQUIRE_FILE: a test skips
// only when a file is absent, and any error loading a present one fails it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "gearbox/core/paths.hpp"

namespace gearbox::testing {

// data_dir()/graphs/<file>, or nullopt when no data folder is found.
inline std::optional<std::filesystem::path> shared_graph_file(const std::string& file) {
  const auto data = gearbox::data_dir();
  if (!data) return std::nullopt;
  return *data / "graphs" / file;
}

}  // namespace gearbox::testing

// Requires every file Cora loads with (adjacency, features, labels, split).
#define GEARBOX_REQUIRE_CORA()                                                                     \
  do {                                                                                             \
    for (const char* gearbox_cora_file_ : {"cora.adj.mtx", "cora.features.mtx", "cora.labels.txt", \
                                           "cora.train.txt", "cora.val.txt", "cora.test.txt"})     \
      GEARBOX_REQUIRE_FILE(::gearbox::testing::shared_graph_file(gearbox_cora_file_));             \
  } while (0)
