#include <gtest/gtest.h>

#include <set>

#include "gearbox/sched/cells.hpp"
#include "test_support.hpp"

namespace gearbox::sched {
namespace {

TEST(Cells, EnumeratesEveryTypeCountLocalityAndStageCount) {
  const auto cat = test::tiny_catalog();
  AnalyticalEstimator est(cat);
  Cluster c;
  c.add_pool("a100", 2, 4);  // 8 GPUs: counts 1,2,4,8
  c.add_pool("a10", 1, 2);   // 2 GPUs: counts 1,2
  const auto cells = enumerate_cells({cat.get("bert__760M"), 128}, c, est);
  // a100: n=1 {1x1} s{1}; n=2 {1x2,2x1} s{1,2}; n=4 {1x4,2x2} s{1,2,4}; n=8 {2x4} s{1,2,4,8}
  // -> 1 + 2*2 + 2*3 + 1*4 = 15 Cells; a10: n=1 -> 1, n=2 {1x2} s{1,2} -> 2 (one node only).
  EXPECT_EQ(cells.size(), 18u);
  std::set<std::tuple<int, int, int, int>> seen;
  for (const auto& cell : cells) {
    EXPECT_TRUE(seen.insert({cell.placement.pool, cell.placement.hosts, cell.placement.per_host,
                             cell.stages})
                    .second);
    EXPECT_LE(cell.placement.hosts, c.pool(cell.placement.pool).nodes);
    EXPECT_LE(cell.placement.per_host, c.pool(cell.placement.pool).gpus_per_node);
    if (cell.best) {
      EXPECT_EQ(cell.best->pp, cell.stages);
      EXPECT_EQ(cell.best->pp * cell.best->dp * cell.best->tp, cell.placement.gpus());
      // The best plan is the fastest fitting (dp, tp) in this Cell.
      for (const auto& p : est.plans({cat.get("bert__760M"), 128}, c.pool(cell.placement.pool),
                                     cell.placement.hosts, cell.placement.per_host, cell.stages))
        if (p.fits) {
          EXPECT_LE(cell.best->iter_s, p.iter_s);
        }
    }
  }
}

TEST(Cells, MemoryFeasibility) {
  const auto cat = test::tiny_catalog();
  AnalyticalEstimator est(cat);
  const JobShape big{cat.get("bert__1.3B"), 256};
  // 1.3B parameters need ~21 GB of weights and states alone: no plan on one 24 GB A10.
  EXPECT_FALSE(est.best_plan(big, pool_for_type("a10"), 1, 1).has_value());
  // Splitting the model over 8 GPUs (pipeline and tensor) fits.
  EXPECT_TRUE(est.best_plan(big, pool_for_type("a10"), 4, 2).has_value());
  // Per-GPU memory falls as the model is split further.
  const double m1 = est.evaluate(big, pool_for_type("a100"), 1, 4, 1, 4, 1).mem_gb;
  const double m2 = est.evaluate(big, pool_for_type("a100"), 1, 4, 2, 2, 1).mem_gb;
  const double m4 = est.evaluate(big, pool_for_type("a100"), 1, 4, 1, 1, 4).mem_gb;
  EXPECT_GT(m1, m2);
  EXPECT_GT(m1, m4);
  // A40 (48 GB) fits what A10 (24 GB) does not, for the same plan.
  const auto a40 = est.evaluate(big, pool_for_type("a40"), 1, 2, 1, 2, 1);
  const auto a10 = est.evaluate(big, pool_for_type("a10"), 1, 2, 1, 2, 1);
  EXPECT_DOUBLE_EQ(a40.mem_gb, a10.mem_gb);
  EXPECT_TRUE(a40.fits);
  EXPECT_FALSE(a10.fits);
}

}  // namespace
}  // namespace gearbox::sched
