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

// The error a cluster file gets, or "" (with a test failure) when it is accepted.
Error load_error(const std::filesystem::path& path) {
  try {
    Cluster::load(path);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "accepted " << path;
  return Error::runtime("accepted");
}

// Three pools of 1,000,000 nodes x 1024 GPUs (each within the per-pool bounds) summed to
// 3,072,000,000 in an int: "-1222967296 GPUs" and a negative utilisation. The cluster is refused
// naming the file and the pool that sized it.
TEST(Cluster, TotalsBeyondTheLimitAreRefusedNamingThePool) {
  const auto huge =
      write_tmp("gb_cluster_huge.json",
                R"({"pools": [{"gpu": "a100", "nodes": 1000000, "gpus_per_node": 1024},
                    {"gpu": "v100", "nodes": 1000000, "gpus_per_node": 1024},
                    {"gpu": "a40", "nodes": 1000000, "gpus_per_node": 1024}]})");
  Error e = load_error(huge);
  EXPECT_EQ(e.exit_code(), 2);
  EXPECT_EQ(e.file(), huge.string());
  EXPECT_EQ(e.field_name(), "pools[0].nodes");
  // Pools that fit alone but not together: the third tips the total over 4,194,304.
  const auto sum = write_tmp("gb_cluster_sum.json",
                             R"({"pools": [{"gpu": "a100", "nodes": 2000, "gpus_per_node": 1000},
                    {"gpu": "v100", "nodes": 2000, "gpus_per_node": 1000},
                    {"gpu": "a40", "nodes": 2000, "gpus_per_node": 1000}]})");
  e = load_error(sum);
  EXPECT_EQ(e.field_name(), "pools[2].nodes");
  EXPECT_NE(std::string(e.what()).find("6000000"), std::string::npos) << e.what();
  // The artifact's shape too.
  const auto art = write_tmp("gb_cluster_art.json",
                             R"([{"a100": {"node_num": 1000000}, "v100": {"node_num": 1000000}}])");
  e = load_error(art);
  EXPECT_EQ(e.field_name(), "v100.node_num");
  // Just inside the limit: the total is exact.
  Cluster c;
  c.add_pool("a100", 1024, 1024);
  c.add_pool("v100", 1024, 1024);
  c.add_pool("a40", 1024, 1024);
  c.add_pool("a10", 1024, 1024);
  EXPECT_EQ(c.total_gpus(), kMaxClusterGpus);
  EXPECT_THROW(c.add_pool("h100", 1, 1), Error);
}

// Cluster files are regular files: a device is refused at once (it was read until memory ran
// out), naming the file; so is a directory.
TEST(Cluster, DevicesAndDirectoriesAreRefused) {
  for (const std::filesystem::path& p :
       {std::filesystem::path("/dev/zero"), std::filesystem::temp_directory_path()}) {
    const Error e = load_error(p);
    EXPECT_EQ(e.exit_code(), 2) << p;
    EXPECT_EQ(e.file(), p.string());
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
}

TEST(Cluster, ScaledKeepsTheMix) {
  const Cluster c = Cluster::from_spec("arena:gpus=10240");
  EXPECT_EQ(c.total_gpus(), 10240);
  EXPECT_EQ(c.pool(0).gpus(), 2560);
}

}  // namespace
}  // namespace gearbox::sched
