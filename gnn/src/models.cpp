#include "gearbox/gnn/models.hpp"

#include <algorithm>
#include <cmath>

#include "gearbox/core/error.hpp"
#include "gearbox/core/stats.hpp"
#include "gearbox/gnn/random_init.hpp"
#include "gearbox/gnn/train_loop.hpp"
#include "model_base.hpp"

namespace gearbox::gnn {

ModelKind parse_model(const std::string& s) {
  if (s == "gcn") return ModelKind::kGcn;
  if (s == "sage") return ModelKind::kSage;
  if (s == "gin") return ModelKind::kGin;
  throw Error::usage("unknown model").field("--model").expected("gcn|sage|gin").found(s);
}

const char* model_name(ModelKind m) {
  switch (m) {
    case ModelKind::kGcn:
      return "gcn";
    case ModelKind::kSage:
      return "sage";
    case ModelKind::kGin:
      return "gin";
  }
  return "?";
}

bool aggregation_symmetric(ModelKind m) {
  return m != ModelKind::kSage;
}

Csr aggregation_matrix(ModelKind m, const Csr& adj, float gin_eps) {
  if (m == ModelKind::kGcn) return gcn_normalize(adj);
  if (m == ModelKind::kSage) {
    Csr a = adj;
    normalize_rows(a);  // values 1: each row becomes 1 / degree
    return a;
  }
  // GIN: A + (1 + eps) I, the diagonal entry inserted in column order.
  Csr a;
  a.rows = adj.rows;
  a.cols = adj.cols;
  a.rowptr.assign(static_cast<std::size_t>(adj.rows) + 1, 0);
  a.col.reserve(adj.col.size() + static_cast<std::size_t>(adj.rows));
  a.val.reserve(a.col.capacity());
  for (index_t r = 0; r < adj.rows; ++r) {
    bool diag = false;
    for (offset_t k = adj.rowptr[r]; k < adj.rowptr[r + 1]; ++k) {
      if (!diag && adj.col[k] >= r) {
        a.col.push_back(r);
        a.val.push_back(1.0f + gin_eps + (adj.col[k] == r ? adj.val[k] : 0.0f));
        diag = true;
        if (adj.col[k] == r) continue;
      }
      a.col.push_back(adj.col[k]);
      a.val.push_back(adj.val[k]);
    }
    if (!diag) {
      a.col.push_back(r);
      a.val.push_back(1.0f + gin_eps);
    }
    a.rowptr[r + 1] = static_cast<offset_t>(a.col.size());
  }
  return a;
}

namespace detail {

ModelBase::ModelBase(index_t nodes, const Features& x, int classes, const Aggregation& agg,
                     const TrainConfig& cfg)
    : n_(static_cast<std::size_t>(nodes)),
      in_(x.in_dim),
      hid_(cfg.hidden),
      out_(classes),
      cfg_(cfg),
      input_(nodes, x, cfg.dropout, cfg.seed),
      agg_(agg) {}

std::size_t ModelBase::add_param(const char* name, int rows, int cols, std::uint64_t stream,
                                 bool decay) {
  Param p;
  p.name = name;
  p.rows = rows;
  p.cols = cols;
  const std::size_t count = static_cast<std::size_t>(rows) * cols;
  p.w = stream > 0 ? glorot_uniform(count, rows, cols, cfg_.seed, stream) : Vec(count, 0.0f);
  p.g.assign(count, 0.0f);
  p.decay = decay;
  params_.push_back(std::move(p));
  return params_.size() - 1;
}

}  // namespace detail

std::unique_ptr<GnnModel> make_model(ModelKind m, index_t nodes, const Features& x, int classes,
                                     const Aggregation& agg, const TrainConfig& cfg) {
  if ((x.sparse == nullptr) == (x.dense == nullptr))
    throw Error::usage("make_model: give exactly one of sparse or dense features");
  if (!agg.forward) throw Error::usage("make_model: no aggregation function");
  switch (m) {
    case ModelKind::kSage:
      return detail::make_sage(nodes, x, classes, agg, cfg);
    case ModelKind::kGin:
      return detail::make_gin(nodes, x, classes, agg, cfg);
    case ModelKind::kGcn:
      break;
  }
  return detail::make_gcn(nodes, x, classes, agg, cfg);
}

double softmax_cross_entropy(const std::vector<float>& z, int c,
                             const std::vector<std::int32_t>& labels,
                             const std::vector<index_t>& ids, std::vector<float>& dz) {
  dz.assign(z.size(), 0.0f);
  if (ids.empty()) return 0;
  const float inv = 1.0f / static_cast<float>(ids.size());
  double loss = 0;
  std::vector<float> p(static_cast<std::size_t>(c));
  for (index_t i : ids) {
    const int y = labels[i];
    if (y < 0) continue;
    const std::size_t o = static_cast<std::size_t>(i) * c;
    const float mx = *std::max_element(z.begin() + o, z.begin() + o + c);
    float s = 0;
    for (int j = 0; j < c; ++j) s += (p[j] = std::exp(z[o + j] - mx));
    for (int j = 0; j < c; ++j) p[j] /= s;
    loss -= std::log(std::max(p[y], 1e-30f));
    for (int j = 0; j < c; ++j) dz[o + j] = (p[j] - (j == y ? 1.0f : 0.0f)) * inv;
  }
  return loss * inv;
}

namespace {
double accuracy(const std::vector<float>& z, int c, const std::vector<std::int32_t>& labels,
                const std::vector<index_t>& ids) {
  if (ids.empty()) return 0;
  std::size_t ok = 0, counted = 0;
  for (index_t i : ids) {
    if (labels[i] < 0) continue;
    ++counted;
    const float* zi = z.data() + static_cast<std::size_t>(i) * c;
    ok += static_cast<int>(std::max_element(zi, zi + c) - zi) == labels[i];
  }
  return counted ? static_cast<double>(ok) / static_cast<double>(counted) : 0.0;
}
}  // namespace

TrainResult train_model(ModelKind kind, index_t nodes, const Features& x,
                        const std::vector<std::int32_t>& labels, int classes,
                        const std::vector<index_t>& train, const std::vector<index_t>& val,
                        const std::vector<index_t>& test, const Aggregation& agg,
                        const TrainConfig& cfg, std::ostream* progress) {
  check_training_inputs(nodes, labels, classes, train);
  if (cfg.tf32)
    throw Error::usage("TF32 products are a GPU mode: the CPU trainer runs FP32")
        .field("tf32")
        .expected("--device cuda");
  double agg_ms = 0;
  const auto timed = [&agg_ms](const AggregateFn& fn) -> AggregateFn {
    if (!fn) return {};
    return [&agg_ms, fn](const float* in, int f, float* y) {
      Stopwatch sw;
      fn(in, f, y);
      agg_ms += sw.ms();
    };
  };
  const auto model =
      make_model(kind, nodes, x, classes, {timed(agg.forward), timed(agg.transpose)}, cfg);
  std::vector<detail::Adam> adam(model->params().size());
  std::vector<float> dz;
  const std::vector<float>* evaluated = nullptr;  // logits of the last evaluation pass
  TrainSteps steps;
  steps.train_epoch = [&](int epoch) {
    const std::vector<float>& z = model->forward(true, epoch);
    double loss = softmax_cross_entropy(z, classes, labels, train, dz);
    const double train_acc = accuracy(z, classes, labels, train);
    model->backward(dz);
    auto& params = model->params();
    for (std::size_t i = 0; i < params.size(); ++i) {
      Param& p = params[i];
      if (p.decay) {
        double l2 = 0;
        for (float w : p.w) l2 += static_cast<double>(w) * w;
        loss += cfg.weight_decay * 0.5 * l2;
        for (std::size_t k = 0; k < p.g.size(); ++k) p.g[k] += cfg.weight_decay * p.w[k];
      }
      adam[i].step(p.w, p.g, cfg.lr);
    }
    return std::make_pair(loss, train_acc);
  };
  steps.evaluate = [&] { evaluated = &model->forward(false, 0); };
  steps.accuracy = [&](Split s) {
    return accuracy(*evaluated, classes, labels,
                    s == Split::kTrain ? train
                    : s == Split::kVal ? val
                                       : test);
  };
  TrainResult res = run_epochs(steps, cfg, progress);
  res.aggregate_ms_total = agg_ms;
  return res;
}

}  // namespace gearbox::gnn
