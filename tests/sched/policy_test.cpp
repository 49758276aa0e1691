#include <gtest/gtest.h>

#include <cmath>

#include "gearbox/sched/policies/gavel.hpp"
#include "gearbox/sched/policy.hpp"
#include "test_support.hpp"

namespace gearbox::sched {
namespace {

// A scenario: a cluster, a fake estimator, and active jobs built from (model, batch, request).
struct Scenario {
  ModelCatalog cat = test::tiny_catalog();
  Cluster cluster;
  std::unique_ptr<test::FakeEstimator> est;
  std::unique_ptr<ThroughputTable> table;
  std::vector<ActiveJob> jobs;

  void init(test::FakeEstimator::Fn fn) {
    est = std::make_unique<test::FakeEstimator>(fn);
    table = std::make_unique<ThroughputTable>(cluster, *est);
  }
  ActiveJob& add(const char* model, int batch, int req, const char* type, Placement cur = {}) {
    ActiveJob j;
    j.id = static_cast<int>(jobs.size());
    j.shape = table->intern({cat.get(model), batch});
    j.batch = batch;
    j.req_gpus = req;
    j.req_pool = cluster.find_pool(type);
    j.remaining_iters = 1000;
    j.deadline = 1e12;
    j.current = cur;
    jobs.push_back(j);
    return jobs.back();
  }
  std::vector<Placement> run(Policy& p, bool arrivals = true, bool departures = false) {
    std::vector<Placement> target;
    for (const auto& j : jobs) target.push_back(j.current);
    RoundInput in;
    in.cluster = &cluster;
    in.table = table.get();
    in.jobs = &jobs;
    in.arrivals = arrivals;
    in.departures = departures;
    p.schedule(in, target);
    return target;
  }
};

bool is(const ModelCatalog& cat, const JobShape& s, const char* m) {
  return cat.display_name(s.model) == m;
}

TEST(Fcfs, ArrivalOrderOnRequestedTypeWithPerTypeQueues) {
  Scenario s;
  s.cluster.add_pool("a100", 1, 4);
  s.cluster.add_pool("a10", 1, 2);
  s.init([](const JobShape&, const std::string&, int n) { return 1.0 / n; });
  s.add("bert-760M", 128, 4, "a100");
  s.add("bert-760M", 128, 1, "a100");  // blocked behind the first on a100
  s.add("moe-690M", 256, 2, "a10");    // its own queue
  auto fcfs = make_policy("fcfs");
  const auto t = s.run(*fcfs);
  EXPECT_EQ(t[0], (Placement{0, 1, 4}));
  EXPECT_FALSE(t[1].placed());
  EXPECT_EQ(t[2], (Placement{1, 1, 2}));
}

TEST(Crius, PlacesOnTheFastestFreeCell) {
  Scenario s;
  s.cluster.add_pool("a10", 2, 2);
  s.cluster.add_pool("a100", 1, 2);  // no room to grow past the request afterwards
  s.init([](const JobShape&, const std::string& type, int n) {
    return (type == "a100" ? 2.0 : 4.0) / n;
  });
  s.add("bert-760M", 128, 2, "a10");
  auto crius = make_policy("crius");
  const auto t = s.run(*crius);
  EXPECT_EQ(t[0], (Placement{1, 1, 2}));  // 2 A100s beat the requested 2 A10s
}

TEST(Crius, DowngradesARunningJobWhenThatRaisesTotalThroughput) {
  Scenario s;
  s.cluster.add_pool("a100", 1, 4);
  s.cluster.add_pool("a10", 1, 2);
  const auto cat = &s.cat;
  s.init([cat](const JobShape& j, const std::string& type, int n) {
    if (type != "a100") return kInfeasible;
    if (is(*cat, j, "bert-760M")) return n == 4 ? 1.0 : n == 2 ? 1.05 : 2.0;  // scales poorly
    return n == 2 ? 0.5 : kInfeasible;                                        // moe: only 2 A100s
  });
  s.add("bert-760M", 128, 4, "a100", Placement{0, 1, 4});
  s.add("moe-690M", 256, 2, "a100");
  auto crius = make_policy("crius");
  const auto t = s.run(*crius);
  EXPECT_EQ(t[0], (Placement{0, 1, 2}));  // halved: loses 6 samples/s
  EXPECT_EQ(t[1], (Placement{0, 1, 2}));  // gains 512 samples/s
}

TEST(Crius, KeepsRunningJobsWhenADowngradeWouldLoseThroughput) {
  Scenario s;
  s.cluster.add_pool("a100", 1, 4);
  const auto cat = &s.cat;
  s.init([cat](const JobShape& j, const std::string&, int n) {
    if (is(*cat, j, "bert-760M")) return 4.0 / n;  // scales perfectly
    return n == 2 ? 1000.0 : kInfeasible;          // moe: very slow
  });
  s.add("bert-760M", 128, 4, "a100", Placement{0, 1, 4});
  s.add("moe-690M", 256, 2, "a100");
  auto crius = make_policy("crius");
  const auto t = s.run(*crius);
  EXPECT_EQ(t[0], (Placement{0, 1, 4}));
  EXPECT_FALSE(t[1].placed());
}

TEST(Crius, UpgradesToAFreeBetterTypeAfterADeparture) {
  Scenario s;
  s.cluster.add_pool("a10", 1, 2);
  s.cluster.add_pool("a100", 1, 4);
  s.init([](const JobShape&, const std::string& type, int n) {
    return (type == "a100" ? 1.0 : 5.0) / n;
  });
  s.add("bert-760M", 128, 2, "a10", Placement{0, 1, 2});
  auto crius = make_policy("crius");
  EXPECT_EQ(s.run(*crius, false, false)[0], (Placement{0, 1, 2}));  // no event: no change
  const auto t = s.run(*crius, false, true);
  EXPECT_EQ(t[0].pool, 1);
  EXPECT_GE(t[0].gpus(), 2);
}

TEST(Gavel, MaxMinFairnessGivesEachClassItsFastType) {
  const auto x = GavelPolicy::solve(GavelPolicy::Objective::kMaxMinFairness,
                                    {{4.0, 1.0}, {1.0, 1.0}}, {1, 1}, {4, 4}, {4, 4});
  EXPECT_NEAR(x[0][0], 1.0, 1e-6);
  EXPECT_NEAR(x[1][1], 1.0, 1e-6);
  EXPECT_NEAR(x[1][0], 0.0, 1e-6);
  // Two jobs of one class on one 4-GPU type, each asking 4: half the time each.
  const auto y =
      GavelPolicy::solve(GavelPolicy::Objective::kMaxMinFairness, {{1.0}}, {2}, {4}, {4});
  EXPECT_NEAR(y[0][0], 0.5, 1e-6);

  Scenario s;
  s.cluster.add_pool("a100", 1, 4);
  s.cluster.add_pool("a10", 2, 2);
  const auto cat = &s.cat;
  s.init([cat](const JobShape& j, const std::string& type, int n) {
    if (is(*cat, j, "bert-760M")) return (type == "a100" ? 1.0 : 4.0) / n;
    return 1.0 / n;  // moe: same speed everywhere
  });
  s.add("moe-690M", 256, 4, "a100");
  s.add("bert-760M", 128, 4, "a10");
  auto gavel = make_policy("gavel");
  const auto t = s.run(*gavel);
  EXPECT_EQ(t[1].pool, 0);  // bert on the A100s, where it is 4x faster
  EXPECT_EQ(t[0].pool, 1);  // moe on the A10s
}

TEST(Sia, SpreadsGpusByConcaveGoodputUtility) {
  Scenario s;
  s.cluster.add_pool("a100", 1, 4);
  const auto cat = &s.cat;
  s.init([cat](const JobShape& j, const std::string&, int n) {
    return is(*cat, j, "bert-760M") ? 1.0 / n : 1.0;  // moe does not scale
  });
  s.add("bert-760M", 128, 1, "a100");
  s.add("moe-690M", 256, 1, "a100");
  auto sia = make_policy("sia");
  const auto t = s.run(*sia);
  // sqrt(2) + 1 beats 2 (all four GPUs to bert) and 1 + 1.
  EXPECT_EQ(t[0], (Placement{0, 1, 2}));
  EXPECT_TRUE(t[1].placed());
  EXPECT_LE(t[0].gpus() + t[1].gpus(), 4);
}

TEST(ElasticFlow, GivesADeadlineJobItsMinimumSatisfactoryShare) {
  Scenario s;
  s.cluster.add_pool("a100", 4, 4);
  s.init([](const JobShape&, const std::string&, int n) { return 4.0 / n; });
  ActiveJob& tight = s.add("bert-760M", 128, 1, "a100");
  tight.deadline = 1000;  // 1000 iterations: only 16 GPUs (600 s restart + 250 s) meet it
  ActiveJob& loose = s.add("moe-690M", 256, 16, "a100");
  loose.deadline = 1e12;
  auto ef = make_policy("elasticflow");
  const auto t = s.run(*ef);
  EXPECT_EQ(t[0].gpus(), 16);
  EXPECT_FALSE(t[1].placed());  // nothing left for the best-effort job
}

}  // namespace
}  // namespace gearbox::sched
