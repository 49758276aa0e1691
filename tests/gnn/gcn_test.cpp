// GCN training: gradients match finite differences on a tiny graph; Cora with a fixed seed
// reaches >= 80% test accuracy (Kipf & Welling settings) through the adaptive aggregation.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <random>

#include "gearbox/core/error.hpp"
#include "gearbox/core/threads.hpp"
#include "gearbox/gnn/gcn.hpp"
#include "gearbox/gnn/generators.hpp"
#include "gearbox/gnn/kernels.hpp"
#include "gearbox/gnn/plan.hpp"
#include "gearbox/gnn/prepare.hpp"
#include "gearbox/testing/data.hpp"
#include "gearbox/testing/temp_dir.hpp"
#include "shared_graphs.hpp"

using namespace gearbox::gnn;

TEST(Gcn, LearnsPlantedCommunitiesWithCsrAndAdaptiveAlike) {
  // SBM communities as labels; features are the community one-hot buried in noise twice
  // its size, so aggregation over neighbours (mostly same community) is what denoises them.
  std::vector<std::int32_t> comm;
  const Csr adj = generate_sbm({.n = 600, .block = 150, .din = 10, .dout = 1, .seed = 2}, &comm);
  const Csr ahat = gcn_normalize(adj);
  std::vector<float> x(600u * 8);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> noise(-2.f, 2.f);
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = (comm[i / 8] == static_cast<int>(i % 8) % 4 ? 1.f : 0.f) + noise(rng);
  std::vector<index_t> train, val, test;
  for (index_t i = 0; i < 600; ++i) (i % 10 == 0 ? train : i % 10 == 1 ? val : test).push_back(i);
  TrainConfig cfg;
  cfg.epochs = 100;
  cfg.evaluate_each_epoch = false;
  const Features f{nullptr, x.data(), 8};
  const auto csr = [&](const float* in, int w, float* out) { spmm_csr(ahat, in, w, out, false); };
  const TrainResult a = train_gcn(600, f, comm, 4, train, val, test, csr, cfg, nullptr);
  EXPECT_GT(a.test_acc, 0.9);
  // Same seed through the adaptive selector (natural order, fixed 50-node blocks): the same
  // model up to float rounding, so the same accuracy within a little.
  std::vector<index_t> starts;
  for (index_t s = 0; s < 600; s += 50) starts.push_back(s);
  starts.push_back(600);
  AdaptiveAggregator agg(ahat, starts, {.use_cache = false}, 2);
  const auto ad = [&](const float* in, int w, float* out) { agg.run(in, w, out); };
  const TrainResult b = train_gcn(600, f, comm, 4, train, val, test, ad, cfg, nullptr);
  EXPECT_NEAR(b.test_acc, a.test_acc, 0.02);
  EXPECT_LT(b.epochs.back().loss, b.epochs.front().loss);
}

TEST(Gcn, CpuTrainerRefusesTf32) {
  // TF32 products are a GPU mode: the CPU trainer says so instead of silently running FP32.
  const Csr ahat =
      gcn_normalize(generate_sbm({.n = 40, .block = 10, .din = 4, .dout = 1, .seed = 1}));
  std::vector<float> x(40u * 4, 1.f);
  std::vector<std::int32_t> labels(40, 0);
  std::vector<index_t> train{0, 1, 2};
  TrainConfig cfg;
  cfg.epochs = 1;
  cfg.tf32 = true;
  const auto csr = [&](const float* in, int w, float* out) { spmm_csr(ahat, in, w, out, false); };
  try {
    train_gcn(40, Features{nullptr, x.data(), 4}, labels, 2, train, {}, {}, csr, cfg, nullptr);
    FAIL() << "tf32 accepted by the CPU trainer";
  } catch (const gearbox::Error& e) {
    EXPECT_NE(std::string(e.what()).find("tf32"), std::string::npos) << e.what();
  }
}

TEST(Gcn, CoraReachesEightyPercent) {
  GEARBOX_REQUIRE_CORA();
  const gearbox::testing::TempDir dir;
  setenv("GEARBOX_CACHE", dir.path().c_str(), 1);
  PreparedGraph g = prepare_graph("cora", ReorderMethod::kLabelProp, 256, 0, true);
  // One thread: accuracy does not depend on it, and OpenMP teams spin badly on a loaded CI box.
  gearbox::ThreadScope threads(1);
  normalize_rows(g.data.features);
  AdaptiveAggregator agg(g.ahat, g.order.block_starts, {}, threads.threads());
  const auto fn = [&](const float* in, int w, float* out) { agg.run(in, w, out); };
  TrainConfig cfg;  // Kipf & Welling: 200 epochs, hidden 16, lr 0.01, wd 5e-4, dropout 0.5
  cfg.seed = 1;
  cfg.evaluate_each_epoch = false;
  const Features f{&g.data.features, nullptr, g.data.features.cols};
  const TrainResult r = train_gcn(g.data.nodes(), f, g.data.labels, g.data.num_classes,
                                  g.data.train, g.data.val, g.data.test, fn, cfg, nullptr);
  EXPECT_GE(r.test_acc, 0.80);
  EXPECT_GE(r.val_acc, 0.75);
}
