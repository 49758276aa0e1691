// `gearbox gnn train --graph cora --model gcn|sage|gin --epochs 200 --hidden 16 --lr 0.01
//  --weight-decay 5e-4 --dropout 0.5 --seed S [--kernels auto|csr] [--device cpu|cuda [--tf32]]
//  [--json]`
#include <iostream>
#include <memory>
#include <random>

#include "cuda_device.hpp"
#include "gearbox/core/cli.hpp"
#include "gearbox/core/error.hpp"
#include "gearbox/core/output.hpp"
#include "gearbox/core/threads.hpp"
#include "gearbox/gnn/gcn.hpp"
#include "gearbox/gnn/kernels.hpp"
#include "gearbox/gnn/model_aggregation.hpp"
#include "gearbox/gnn/models.hpp"
#include "gearbox/gnn/plan.hpp"
#include "gearbox/gnn/prepare.hpp"
#include "gnn_commands.hpp"

namespace gearbox::apps {

namespace {
struct TrainArgs {
  CommonOptions common;
  std::string graph, model = "gcn", kernels = "auto", reorder = "lp", device = "cpu";
  gnn::TrainConfig cfg;
  int in_dim = 64;  // random features when the dataset ships none
  int block = 64;
};

void run_train(TrainArgs a) {
  ThreadScope threads(a.common.threads);
  const gnn::ModelKind model = gnn::parse_model(a.model);
  require_device(a.device);
  if (a.device == "cuda" && model != gnn::ModelKind::kGcn)
    throw Error::usage("--device cuda trains gcn only")
        .field("--model")
        .expected("gcn")
        .found(a.model);
  if (a.cfg.tf32 && a.device != "cuda")
    throw Error::usage("--tf32 is a GPU mode")
        .field("--tf32")
        .expected("--device cuda")
        .found(a.device);
  a.cfg.seed = a.common.seed;
  const bool adaptive = a.kernels == "auto";
  const auto method = adaptive ? gnn::parse_reorder(a.reorder) : gnn::ReorderMethod::kNone;
  std::cerr << "gnn train: loading " << a.graph << "\n";
  if (a.device == "cuda") a.block = 512;  // the GPU's dense kernels want larger blocks
  // Per node: random input features (when the graph ships none) and the activations and
  // gradients of the hidden layers (about eight hidden-wide buffers).
  const std::uint64_t bytes_per_node =
      4 * static_cast<std::uint64_t>(a.in_dim) + 32 * static_cast<std::uint64_t>(a.cfg.hidden);
  gnn::PreparedGraph g =
      gnn::prepare_graph(a.graph, method, a.block, a.common.seed, true, bytes_per_node);
  gnn::Dataset& d = g.data;
  if (d.labels.empty())
    throw Error::input("graph has no labels to train on").field("--graph").found(a.graph);
  if (d.train.empty()) gnn::random_split(d, 0.2, 0.3, a.common.seed);
  std::vector<float> dense;
  gnn::Features x;
  if (d.features.rows == d.nodes()) {
    gnn::normalize_rows(d.features);
    x.sparse = &d.features;
    x.in_dim = d.features.cols;
  } else {
    std::mt19937 rng(static_cast<unsigned>(a.common.seed));
    std::normal_distribution<float> nd;
    dense.resize(static_cast<std::size_t>(d.nodes()) * a.in_dim);
    for (auto& v : dense) v = nd(rng);
    x.dense = dense.data();
    x.in_dim = a.in_dim;
  }
  // The model's own matrix (GCN: A_hat; SAGE: D^-1 A and its transpose; GIN: A + I), each
  // with its adaptive plan on the device.
  gnn::SelectorOptions so;
  so.device = device_of(a.device);
  so.force_csr = !adaptive;
  if (so.device == gnn::Device::kCuda) so.reps = 10;
  gnn::AdaptiveModelAggregation agg(model, d.adj, g.order.block_starts, so, threads.threads());
  const gnn::offset_t nnz = agg.matrix().nnz();  // of the matrix the model aggregates with
  gnn::TrainResult r;
  if (so.device == gnn::Device::kCuda) {  // selected before the timed epochs, both widths at once
    agg.prepare({a.cfg.hidden, d.num_classes});
    r = train_gcn_on_cuda(d, x, agg.functions().forward, a.cfg, &std::cerr);
  } else {
    r = gnn::train_model(model, d.nodes(), x, d.labels, d.num_classes, d.train, d.val, d.test,
                         agg.functions(), a.cfg, &std::cerr);
  }
  const Json plan = agg.explain(), kernels = agg.kernels();
  const double selection_seconds = agg.selection_seconds();
  Json epochs = Json::array();
  for (const auto& e : r.epochs)
    epochs.push_back({{"epoch", e.epoch}, {"ms", e.ms}, {"loss", e.loss}, {"val_acc", e.val_acc}});
  Json doc = {{"graph", a.graph},
              {"model", a.model},
              {"nodes", d.nodes()},
              {"nnz", nnz},
              {"threads", threads.threads()},
              {"device", a.device},
              {"kernels_mode", a.kernels},
              {"kernels", kernels},
              {"reorder", {{"method", gnn::reorder_name(method)}, {"seconds", g.order.seconds}}},
              {"selection_seconds", selection_seconds},
              {"train_accuracy", r.train_acc},
              {"val_accuracy", r.val_acc},
              {"test_accuracy", r.test_acc},
              {"epoch_ms_median", r.epoch_ms_median},
              {"aggregate_ms_total", r.aggregate_ms_total},
              {"config",
               {{"epochs", a.cfg.epochs},
                {"hidden", a.cfg.hidden},
                {"lr", a.cfg.lr},
                {"weight_decay", a.cfg.weight_decay},
                {"dropout", a.cfg.dropout},
                {"tf32", a.cfg.tf32},
                {"seed", a.common.seed}}},
              {"epochs", epochs},
              {"plan", plan}};
  if (a.common.json) {
    write_json(std::cout, doc);
    return;
  }
  std::cout << gnn::model_name(model) << " on " << a.graph << " (" << d.nodes() << " nodes, " << nnz
            << " nnz aggregated) on " << a.device << ", kernels " << kernels.dump() << "\n"
            << "test accuracy " << fmt_num(100 * r.test_acc, 1) << "%, val "
            << fmt_num(100 * r.val_acc, 1) << "%, train " << fmt_num(100 * r.train_acc, 1)
            << "%; median epoch " << fmt_num(r.epoch_ms_median, 2) << " ms; reorder "
            << fmt_num(g.order.seconds * 1e3, 1) << " ms, selection "
            << fmt_num(selection_seconds * 1e3, 1) << " ms (one-off)\n";
}
}  // namespace

void register_gnn_train(CLI::App& gnn) {
  auto args = std::make_shared<TrainArgs>();
  auto* cmd = gnn.add_subcommand("train", "Train a GNN full-batch and report accuracy and time");
  cmd->add_option("--graph", args->graph, "name (cora), path, or sbm: spec")->required();
  cmd->add_option("--model", args->model, "gcn, sage (GraphSAGE-mean) or gin")
      ->check(CLI::IsMember({"gcn", "sage", "gin"}))
      ->capture_default_str();
  cmd->add_option("--epochs", args->cfg.epochs)
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--hidden", args->cfg.hidden)->check(CLI::Range(1, 65536))->capture_default_str();
  cmd->add_option("--lr", args->cfg.lr, "learning rate (Adam), > 0")
      ->check(finite_range(0.0, 10.0, /*lo_open=*/true))
      ->capture_default_str();
  cmd->add_option("--weight-decay", args->cfg.weight_decay)
      ->check(finite_range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--dropout", args->cfg.dropout, "probability of dropping a unit, in [0, 0.99]")
      ->check(finite_range(0.0, 0.99))
      ->capture_default_str();
  cmd->add_option("--kernels", args->kernels, "auto (reorder + adaptive) or csr (given order)")
      ->check(CLI::IsMember({"auto", "csr"}))
      ->capture_default_str();
  cmd->add_option("--reorder", args->reorder, "metis|lp|degree|none (with --kernels auto)")
      ->capture_default_str();
  cmd->add_option("--in-dim", args->in_dim, "random feature width when the graph has none")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  cmd->add_flag("--tf32", args->cfg.tf32,
                "with --device cuda: the dense products on TF32 tensor cores (FP32 accumulation)");
  add_device_flag(*cmd, args->device);
  add_common_flags(*cmd, args->common);
  cmd->callback([args] { run_train(*args); });
}

}  // namespace gearbox::apps
