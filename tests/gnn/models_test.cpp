// GCN, GraphSAGE (mean) and GIN: the forward pass equals a plain float64 reference written from
// the papers' / PyG's definitions (aggregate, then linear), every parameter tensor's gradient
// matches finite differences of that reference, the models learn planted communities through
// CSR and through the adaptive selector alike, and SAGE / GIN reach a stated accuracy on Cora.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>

#include "gearbox/core/error.hpp"
#include "gearbox/core/threads.hpp"
#include "gearbox/gnn/generators.hpp"
#include "gearbox/gnn/kernels.hpp"
#include "gearbox/gnn/model_aggregation.hpp"
#include "gearbox/gnn/models.hpp"
#include "gearbox/gnn/prepare.hpp"
#include "gearbox/testing/data.hpp"
#include "gearbox/testing/temp_dir.hpp"
#include "shared_graphs.hpp"

using namespace gearbox::gnn;

namespace {

using DMat = std::vector<std::vector<double>>;  // rows of doubles

constexpr int kN = 9, kIn = 5, kHid = 4, kOut = 3;
constexpr float kGinEps = 0.3f;

// A tiny graph with an isolated node (8) and a node of degree 1.
Csr tiny_graph() {
  Coo coo;
  coo.rows = coo.cols = kN;
  const int edges[][2] = {{0, 1}, {0, 2}, {1, 2}, {2, 3}, {3, 4}, {4, 5}, {5, 6}, {1, 5}, {6, 7}};
  for (const auto& e : edges) {
    coo.row.push_back(e[0]);
    coo.col.push_back(e[1]);
  }
  return symmetrize_pattern(coo_to_csr(coo, Duplicates::kKeepOne));
}

std::vector<std::vector<int>> neighbours(const Csr& adj) {
  std::vector<std::vector<int>> nb(adj.rows);
  for (index_t r = 0; r < adj.rows; ++r)
    for (offset_t k = adj.rowptr[r]; k < adj.rowptr[r + 1]; ++k) nb[r].push_back(adj.col[k]);
  return nb;
}

DMat matmul(const DMat& x, const std::vector<double>& w, int cols) {
  DMat y(x.size(), std::vector<double>(cols, 0.0));
  for (std::size_t i = 0; i < x.size(); ++i)
    for (std::size_t k = 0; k < x[i].size(); ++k)
      for (int j = 0; j < cols; ++j) y[i][j] += x[i][k] * w[k * cols + j];
  return y;
}
DMat add(DMat a, const DMat& b) {
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t j = 0; j < a[i].size(); ++j) a[i][j] += b[i][j];
  return a;
}
DMat add_bias(DMat a, const std::vector<double>& b) {
  for (auto& row : a)
    for (std::size_t j = 0; j < row.size(); ++j) row[j] += b[j];
  return a;
}
DMat relu(DMat a) {
  for (auto& row : a)
    for (double& v : row) v = std::max(v, 0.0);
  return a;
}

// The reference models, written from their definitions on neighbour lists.
struct Reference {
  ModelKind kind;
  std::vector<std::vector<int>> nb;
  DMat x;
  std::map<std::string, std::vector<double>> p;

  DMat gcn_agg(const DMat& h) const {
    DMat y(h.size(), std::vector<double>(h[0].size(), 0.0));
    for (std::size_t i = 0; i < h.size(); ++i) {
      std::vector<int> with_self = nb[i];
      with_self.push_back(static_cast<int>(i));
      for (int j : with_self) {
        const double c = 1.0 / std::sqrt((nb[i].size() + 1.0) * (nb[j].size() + 1.0));
        for (std::size_t f = 0; f < h[0].size(); ++f) y[i][f] += c * h[j][f];
      }
    }
    return y;
  }
  DMat mean_agg(const DMat& h) const {
    DMat y(h.size(), std::vector<double>(h[0].size(), 0.0));
    for (std::size_t i = 0; i < h.size(); ++i)
      for (int j : nb[i])
        for (std::size_t f = 0; f < h[0].size(); ++f) y[i][f] += h[j][f] / nb[i].size();
    return y;
  }
  DMat gin_agg(const DMat& h) const {
    DMat y(h.size(), std::vector<double>(h[0].size(), 0.0));
    for (std::size_t i = 0; i < h.size(); ++i) {
      for (std::size_t f = 0; f < h[0].size(); ++f) y[i][f] = (1.0 + kGinEps) * h[i][f];
      for (int j : nb[i])
        for (std::size_t f = 0; f < h[0].size(); ++f) y[i][f] += h[j][f];
    }
    return y;
  }
  DMat sage_layer(const DMat& h, const char* ws, const char* wn, const char* b, int cols) const {
    return add_bias(add(matmul(h, p.at(ws), cols), matmul(mean_agg(h), p.at(wn), cols)), p.at(b));
  }
  DMat gin_mlp(const DMat& v, const char* wa, const char* ba, const char* wb, const char* bb,
               int cols) const {
    return add_bias(matmul(relu(add_bias(matmul(v, p.at(wa), kHid), p.at(ba))), p.at(wb), cols),
                    p.at(bb));
  }
  DMat logits() const {
    switch (kind) {
      case ModelKind::kGcn:
        return gcn_agg(matmul(relu(gcn_agg(matmul(x, p.at("w1"), kHid))), p.at("w2"), kOut));
      case ModelKind::kSage:
        return sage_layer(relu(sage_layer(x, "w_self1", "w_neigh1", "b1", kHid)), "w_self2",
                          "w_neigh2", "b2", kOut);
      case ModelKind::kGin:
        return gin_mlp(gin_agg(relu(gin_mlp(gin_agg(x), "w1a", "b1a", "w1b", "b1b", kHid))), "w2a",
                       "b2a", "w2b", "b2b", kOut);
    }
    return {};
  }
  double loss(const std::vector<std::int32_t>& labels, const std::vector<index_t>& ids) const {
    const DMat z = logits();
    double l = 0;
    for (index_t i : ids) {
      double mx = z[i][0], s = 0;
      for (double v : z[i]) mx = std::max(mx, v);
      for (double v : z[i]) s += std::exp(v - mx);
      l -= z[i][labels[i]] - mx - std::log(s);
    }
    return l / ids.size();
  }
};

struct Tiny {
  Csr adj = tiny_graph();
  std::vector<float> x;
  std::vector<std::int32_t> labels;
  std::vector<index_t> train{0, 1, 3, 4, 6, 8};
  Tiny() {
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> d(-1, 1);
    x.resize(kN * kIn);
    for (auto& v : x) v = d(rng);
    for (int i = 0; i < kN; ++i) labels.push_back(static_cast<int>(rng() % kOut));
  }
};

class ModelGrad : public ::testing::TestWithParam<ModelKind> {};

}  // namespace

TEST_P(ModelGrad, ForwardMatchesReferenceAndGradientsMatchFiniteDifferences) {
  const ModelKind kind = GetParam();
  Tiny t;
  const Csr a = aggregation_matrix(kind, t.adj, kGinEps);
  const Csr at = transpose(a);
  Aggregation agg;
  agg.forward = [&a](const float* in, int f, float* y) { spmm_reference(a, in, f, y, false); };
  agg.transpose = [&at](const float* in, int f, float* y) { spmm_reference(at, in, f, y, false); };
  TrainConfig cfg;
  cfg.hidden = kHid;
  cfg.dropout = 0;
  cfg.seed = 7;
  const Features feats{nullptr, t.x.data(), kIn};
  auto model = make_model(kind, kN, feats, kOut, agg, cfg);
  // Random values everywhere (biases start at zero otherwise).
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> d(-0.8f, 0.8f);
  Reference ref{kind, neighbours(t.adj), DMat(kN, std::vector<double>(kIn)), {}};
  for (int i = 0; i < kN; ++i)
    for (int j = 0; j < kIn; ++j) ref.x[i][j] = t.x[i * kIn + j];
  for (auto& p : model->params()) {
    for (auto& w : p.w) w = d(rng);
    ref.p[p.name] = std::vector<double>(p.w.begin(), p.w.end());
  }
  const std::vector<float> z = model->forward(true, 1);  // dropout 0: deterministic
  const DMat want = ref.logits();
  for (int i = 0; i < kN; ++i)
    for (int j = 0; j < kOut; ++j)
      ASSERT_NEAR(z[i * kOut + j], want[i][j], 1e-4) << model_name(kind) << " z[" << i << "]";
  std::vector<float> dz;
  const double loss = softmax_cross_entropy(z, kOut, t.labels, t.train, dz);
  EXPECT_NEAR(loss, ref.loss(t.labels, t.train), 1e-5);
  model->backward(dz);
  const double h = 1e-6;
  for (const auto& p : model->params()) {
    double worst = 0;
    for (std::size_t k = 0; k < p.w.size(); ++k) {
      std::vector<double>& w = ref.p[p.name];
      const double w0 = w[k];
      w[k] = w0 + h;
      const double lp = ref.loss(t.labels, t.train);
      w[k] = w0 - h;
      const double lm = ref.loss(t.labels, t.train);
      w[k] = w0;
      const double fd = (lp - lm) / (2 * h);
      EXPECT_NEAR(p.g[k], fd, 2e-5 + 1e-3 * std::abs(fd))
          << model_name(kind) << " " << p.name << "[" << k << "]";
      worst = std::max(worst, std::abs(fd));
    }
    EXPECT_GT(worst, 1e-6) << p.name << ": finite differences all zero, the check checks nothing";
  }
}

INSTANTIATE_TEST_SUITE_P(AllModels, ModelGrad,
                         ::testing::Values(ModelKind::kGcn, ModelKind::kSage, ModelKind::kGin),
                         [](const auto& info) { return std::string(model_name(info.param)); });

TEST(Models, AggregationMatrices) {
  const Csr adj = tiny_graph();
  const Csr mean = aggregation_matrix(ModelKind::kSage, adj);
  for (index_t r = 0; r < adj.rows; ++r) {
    double s = 0;
    for (offset_t k = mean.rowptr[r]; k < mean.rowptr[r + 1]; ++k) s += mean.val[k];
    EXPECT_NEAR(s, adj.degree(r) ? 1.0 : 0.0, 1e-6) << "row " << r;
  }
  const Csr gin = aggregation_matrix(ModelKind::kGin, adj, 0.5f);
  EXPECT_EQ(gin.nnz(), adj.nnz() + adj.rows);
  for (index_t r = 0; r < gin.rows; ++r)
    for (offset_t k = gin.rowptr[r]; k < gin.rowptr[r + 1]; ++k) {
      if (k > gin.rowptr[r]) {
        EXPECT_LT(gin.col[k - 1], gin.col[k]) << "columns sorted";
      }
      EXPECT_FLOAT_EQ(gin.val[k], gin.col[k] == r ? 1.5f : 1.0f);
    }
  EXPECT_TRUE(aggregation_symmetric(ModelKind::kGin));
  EXPECT_FALSE(aggregation_symmetric(ModelKind::kSage));
  EXPECT_THROW(parse_model("gat"), gearbox::Error);
}

TEST(Models, SageAndGinLearnPlantedCommunitiesWithCsrAndAdaptiveAlike) {
  // As the GCN test: SBM communities as labels, their one-hot buried in noise as features.
  std::vector<std::int32_t> comm;
  const Csr adj = generate_sbm({.n = 600, .block = 150, .din = 10, .dout = 1, .seed = 2}, &comm);
  std::vector<float> x(600u * 8);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> noise(-2.f, 2.f);
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = (comm[i / 8] == static_cast<int>(i % 8) % 4 ? 1.f : 0.f) + noise(rng);
  std::vector<index_t> train, val, test, starts;
  for (index_t i = 0; i < 600; ++i) (i % 10 == 0 ? train : i % 10 == 1 ? val : test).push_back(i);
  for (index_t s = 0; s < 600; s += 50) starts.push_back(s);
  starts.push_back(600);
  TrainConfig cfg;
  cfg.epochs = 100;
  cfg.evaluate_each_epoch = false;
  const Features f{nullptr, x.data(), 8};
  for (ModelKind kind : {ModelKind::kSage, ModelKind::kGin}) {
    const Csr a = aggregation_matrix(kind, adj);
    const Csr at = transpose(a);
    const Aggregation csr{
        [&](const float* in, int w, float* out) { spmm_csr(a, in, w, out, false); },
        [&](const float* in, int w, float* out) { spmm_csr(at, in, w, out, false); }};
    const TrainResult r1 = train_model(kind, 600, f, comm, 4, train, val, test, csr, cfg, nullptr);
    EXPECT_GT(r1.test_acc, 0.9) << model_name(kind);
    AdaptiveModelAggregation adaptive(kind, adj, starts, {.use_cache = false}, 2);
    const TrainResult r2 =
        train_model(kind, 600, f, comm, 4, train, val, test, adaptive.functions(), cfg, nullptr);
    EXPECT_NEAR(r2.test_acc, r1.test_acc, 0.02) << model_name(kind);
    EXPECT_LT(r2.epochs.back().loss, r2.epochs.front().loss) << model_name(kind);
  }
}

namespace {
// Trains `kind` on Cora (standard split, row-normalised features, label-propagation order,
// adaptive aggregation, one thread) with the Kipf & Welling settings. The caller checks that
// the data is present; any error loading it propagates and fails the test.
TrainResult train_on_cora(ModelKind kind, int hidden, std::uint64_t seed) {
  const gearbox::testing::TempDir dir;
  setenv("GEARBOX_CACHE", dir.path().c_str(), 1);
  PreparedGraph g = prepare_graph("cora", ReorderMethod::kLabelProp, 256, 0, true);
  gearbox::ThreadScope threads(1);
  normalize_rows(g.data.features);
  AdaptiveModelAggregation agg(kind, g.data.adj, g.order.block_starts, {}, threads.threads());
  TrainConfig cfg;  // 200 epochs, lr 0.01, weight decay 5e-4, dropout 0.5
  cfg.hidden = hidden;
  cfg.seed = seed;
  cfg.evaluate_each_epoch = false;
  const Features f{&g.data.features, nullptr, g.data.features.cols};
  TrainResult r = train_model(kind, g.data.nodes(), f, g.data.labels, g.data.num_classes,
                              g.data.train, g.data.val, g.data.test, agg.functions(), cfg, nullptr);
  return r;
}
}  // namespace

// Measured 2026-11-26 (hidden 16, seeds 1/2/3): SAGE 81.5/79.8/81.3%, GIN 75.7/73.8/76.8% test
// accuracy (PyG reports SAGE ~79-81%, GIN ~75-78% on Cora). Bounds with margin for seed 1.
TEST(Models, CoraSageReachesSeventySevenAndGinSeventyPercent) {
  GEARBOX_REQUIRE_CORA();
  const TrainResult sage = train_on_cora(ModelKind::kSage, 16, 1);
  EXPECT_GE(sage.test_acc, 0.77);
  EXPECT_GE(sage.val_acc, 0.72);
  const TrainResult gin = train_on_cora(ModelKind::kGin, 16, 1);
  EXPECT_GE(gin.test_acc, 0.70);
  EXPECT_GE(gin.val_acc, 0.68);
}
