// Skipping on absent data, and only then. A test that needs a shared file or model checks its
// path with GEARBOX_REQUIRE_FILE before loading; any error while loading a present file fails
// the test. With GEARBOX_REQUIRE_DATA=1 (CI sets it) an absent file fails the test too, so a
// green CI means the golden tests ran.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

namespace gearbox::testing {

// True when GEARBOX_REQUIRE_DATA is set to anything but "" or "0".
inline bool data_required() {
  const char* v = std::getenv("GEARBOX_REQUIRE_DATA");
  return v != nullptr && std::string(v) != "" && std::string(v) != "0";
}

}  // namespace gearbox::testing

// Skips the current test (or fails it under GEARBOX_REQUIRE_DATA=1) when `path_expr` (a
// std::filesystem::path, or an optional of one that is empty when not found) names no file.
#define GEARBOX_REQUIRE_FILE(path_expr)                                                      \
  do {                                                                                       \
    const std::optional<std::filesystem::path> gearbox_required_path_{(path_expr)};          \
    if (!gearbox_required_path_ || !std::filesystem::exists(*gearbox_required_path_)) {     \
      const std::string gearbox_what_ =                                                      \
          gearbox_required_path_ ? gearbox_required_path_->string() : std::string(#path_expr); \
      if (::gearbox::testing::data_required()) {                                             \
        FAIL() << "required data absent (GEARBOX_REQUIRE_DATA=1): " << gearbox_what_;        \
      }                                                                                      \
      GTEST_SKIP() << "skipped: data not found: " << gearbox_what_;                          \
    }                                                                                        \
  } while (0)

// For a test that has already found its data absent (by path, never by a failed load): skips,
// or fails under GEARBOX_REQUIRE_DATA=1. `what` names the missing file.
#define GEARBOX_SKIP_ABSENT(what)                                                            \
  do {                                                                                       \
    if (::gearbox::testing::data_required()) {                                               \
      FAIL() << "required data absent (GEARBOX_REQUIRE_DATA=1): " << (what);                 \
    }                                                                                        \
    GTEST_SKIP() << "skipped: data not found: " << (what);                                   \
  } while (0)
