#include <gtest/gtest.h>

#include <random>

#include "gearbox/core/error.hpp"
#include "gearbox/sched/node_allocator.hpp"

namespace gearbox::sched {
namespace {

TEST(NodeAllocator, RepacksAFragmentedPoolByMigrating) {
  Cluster c;
  c.add_pool("a100", 2, 4);
  NodeAllocator a(c);
  // Two 2-GPU jobs, then free node 0's job: each node holds one 2-GPU job after this.
  std::vector<int> ids = {0, 1, 2};
  std::vector<Placement> none(3), t1 = {{0, 1, 2}, {0, 1, 2}, {0, 1, 2}};
  EXPECT_TRUE(a.apply(ids, none, t1).empty());
  std::vector<Placement> t2 = {{}, {0, 1, 2}, {0, 1, 2}};
  EXPECT_TRUE(a.apply(ids, t1, t2).empty());
  // Now jobs 1 and 2 sit wherever best-fit put them; ask for a 4-GPU job 3.
  const bool split = a.nodes_of(1) != a.nodes_of(2);
  ids = {1, 2, 3};
  std::vector<Placement> old = {{0, 1, 2}, {0, 1, 2}, {}}, tgt = {{0, 1, 2}, {0, 1, 2}, {0, 1, 4}};
  const auto moved = a.apply(ids, old, tgt);
  EXPECT_EQ(a.nodes_of(1), a.nodes_of(2));  // packed on one node
  EXPECT_NE(a.nodes_of(3), a.nodes_of(1));
  EXPECT_EQ(moved.size(), split ? 1u : 0u);
  EXPECT_EQ(a.free_gpus(0), 0);
}

TEST(NodeAllocator, RandomTargetsAlwaysFitWhenTotalsDo) {
  Cluster c;
  c.add_pool("a40", 7, 2);
  c.add_pool("v100", 3, 16);
  NodeAllocator a(c);
  std::mt19937 rng(3);
  const int jobs = 40;
  std::vector<int> ids(jobs);
  for (int i = 0; i < jobs; ++i) ids[static_cast<std::size_t>(i)] = i;
  std::vector<Placement> cur(jobs);
  for (int round = 0; round < 300; ++round) {
    std::vector<Placement> next = cur;
    std::vector<int> free = {14, 48};
    for (auto& p : next)
      if (p.placed()) free[static_cast<std::size_t>(p.pool)] -= p.gpus();
    for (int k = 0; k < 6; ++k) {
      auto& p = next[rng() % jobs];
      if (p.placed()) free[static_cast<std::size_t>(p.pool)] += p.gpus();
      p = {};
      const int pool = static_cast<int>(rng() % 2);
      const int n = 1 << (rng() % 5);
      if (rng() % 3 && free[static_cast<std::size_t>(pool)] >= n) {
        const int cap = c.pool(pool).gpus_per_node;
        p = n <= cap ? Placement{pool, 1, n} : Placement{pool, n / cap, cap};
        free[static_cast<std::size_t>(pool)] -= n;
      }
    }
    ASSERT_NO_THROW(a.apply(ids, cur, next)) << "round " << round;
    cur = next;
    std::vector<std::vector<int>> used = {std::vector<int>(7), std::vector<int>(3)};
    for (int i = 0; i < jobs; ++i) {
      const auto& p = cur[static_cast<std::size_t>(i)];
      const auto& nodes = a.nodes_of(i);
      ASSERT_EQ(static_cast<int>(nodes.size()), p.placed() ? p.hosts : 0);
      for (int n : nodes)
        used[static_cast<std::size_t>(p.pool)][static_cast<std::size_t>(n)] += p.per_host;
    }
    for (int p = 0; p < 2; ++p)
      for (std::size_t n = 0; n < used[static_cast<std::size_t>(p)].size(); ++n) {
        ASSERT_LE(used[static_cast<std::size_t>(p)][n], c.pool(p).gpus_per_node);
        ASSERT_EQ(a.node_free(p, static_cast<int>(n)),
                  c.pool(p).gpus_per_node - used[static_cast<std::size_t>(p)][n]);
      }
  }
}

TEST(NodeAllocator, OverAllocationIsRejected) {
  Cluster c;
  c.add_pool("a10", 1, 2);
  NodeAllocator a(c);
  EXPECT_THROW(a.apply({0, 1}, {{}, {}}, {{0, 1, 2}, {0, 1, 1}}), Error);
}

}  // namespace
}  // namespace gearbox::sched
