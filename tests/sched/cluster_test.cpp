#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "gearbox/core/error.hpp"
#include "gearbox/sched/cluster.hpp"
#include "gearbox/testing/temp_dir.hpp"
#include "test_support.hpp"

namespace gearbox::sched {
namespace {

// This test binary's own folder, removed at exit: tests may run in parallel.
std::filesystem::path write_tmp(const std::string& name, const std::string& text) {
  static const gearbox::testing::TempDir dir;
  return dir.write(name, text);
}

TEST(Cluster, Arena1280MatchesTheArtifact) {
  const Cluster c = Cluster::arena1280();
  EXPECT_EQ(c.total_gpus(), 1280);
  ASSERT_EQ(c.num_pools(), 4);
  const int a100 = c.find_pool("a100");
  ASSERT_GE(a100, 0);
  EXPECT_EQ(c.pool(a100).nodes, 80);
  EXPECT_EQ(c.pool(a100).gpus_per_node, 4);
  EXPECT_EQ(c.pool(a100).spec->name, "A100-40");
  EXPECT_EQ(c.pool(c.find_pool("v100")).gpus_per_node, 16);
  EXPECT_EQ(c.pool(c.find_pool("V100-32")).spec->memory_gb, 32);
  EXPECT_EQ(c.pool(c.find_pool("a10")).spec->memory_gb, 24);
  EXPECT_GT(c.pool(a100).rank, c.pool(c.find_pool("v100")).rank);
  EXPECT_GT(c.pool(c.find_pool("a40")).rank, c.pool(c.find_pool("a10")).rank);
}

TEST(Cluster, ReadsBothFileShapes) {
  const Cluster a = Cluster::load(
      write_tmp("gb_cluster_a.json", R"([{"a100": {"node_num": 3}, "a10": {"node_num": 5}}])"));
  EXPECT_EQ(a.total_gpus(), 3 * 4 + 5 * 2);
  const Cluster b = Cluster::load(
      write_tmp("gb_cluster_b.json",
                R"({"name": "mine", "pools": [{"gpu": "h100", "nodes": 2, "gpus_per_node": 8}]})"));
  EXPECT_EQ(b.name(), "mine");
  EXPECT_EQ(b.total_gpus(), 16);
  if (test::have_data()) {
    const Cluster s = Cluster::load(*data_dir() / "crius" / "resources" / "sim_cluster_spec.json");
    EXPECT_EQ(s.total_gpus(), 1280);
  }
}

TEST(Cluster, BadFilesAreInputErrors) {
  for (const char* text : {"{", R"({"pools": [{"gpu": "nope", "nodes": 1, "gpus_per_node": 1}]})",
                           R"({"pools": [{"gpu": "a100", "nodes": -1, "gpus_per_node": 4}]})",
                           R"({"pools": [{"gpu": "a100", "nodes": 1}]})",
                           R"([{"tpu": {"node_num": 1}}])", R"({"pools": []})", "42"}) {
    try {
      Cluster::load(write_tmp("gb_cluster_bad.json", text));
      ADD_FAILURE() << "accepted " << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), 2) << text;
    }
  }
}

TEST(Cluster, ScaledKeepsTheMix) {
  const Cluster c = Cluster::from_spec("arena:gpus=10240");
  EXPECT_EQ(c.total_gpus(), 10240);
  EXPECT_EQ(c.pool(0).gpus(), 2560);
}

}  // namespace
}  // namespace gearbox::sched
