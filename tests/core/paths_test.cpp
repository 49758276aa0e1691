#include "gearbox/core/paths.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

namespace gearbox {

TEST(Paths, EnvironmentOverridesDataModelsAndCache) {
  setenv("GEARBOX_DATA", "/srv/elsewhere/some-data", 1);
  setenv("GEARBOX_MODELS", "/srv/elsewhere/some-models", 1);
  setenv("GEARBOX_CACHE", "/srv/elsewhere/some-cache", 1);
  EXPECT_EQ(data_dir()->string(), "/srv/elsewhere/some-data");
  EXPECT_EQ(models_dir()->string(), "/srv/elsewhere/some-models");
  EXPECT_EQ(cache_dir().string(), "/srv/elsewhere/some-cache");
  unsetenv("GEARBOX_DATA");
  unsetenv("GEARBOX_MODELS");
  unsetenv("GEARBOX_CACHE");
}

TEST(Paths, FindsSharedBesideTheCheckout) {
  unsetenv("GEARBOX_DATA");
  const auto d = data_dir();
  // The checkout lives beside ../shared (developers' machines and CI alike).
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(std::filesystem::is_directory(*d / "graphs")) << d->string();
}

}  // namespace gearbox
