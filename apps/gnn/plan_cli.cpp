// `gearbox gnn plan --graph G --dim F [--reorder metis|lp|degree|none] [--device cpu|cuda]
//  [--json]`
#include <iostream>
#include <memory>

#include "cuda_device.hpp"
#include "gearbox/core/cli.hpp"
#include "gearbox/core/cuda.hpp"
#include "gearbox/core/output.hpp"
#include "gearbox/core/threads.hpp"
#include "gearbox/gnn/plan.hpp"
#include "gearbox/gnn/plan_report.hpp"
#include "gearbox/gnn/prepare.hpp"
#include "gnn_commands.hpp"

namespace gearbox::apps {

namespace {
struct PlanArgs {
  CommonOptions common;
  std::string graph;
  int dim = 64;
  std::string reorder = "lp";
  int block = 64;
  bool no_cache = false;
  std::string device = "cpu";
  bool block_given = false;
};

// `--device cuda`: the same plan built for the GPU, whose selector measures with CUDA events;
// the document lists its candidates and the cuSPARSE anchor.
void run_plan_cuda(PlanArgs a) {
  if (!a.block_given) a.block = 512;
  std::cerr << "gnn plan: loading " << a.graph << "\n";
  gnn::PreparedGraph g =
      gnn::prepare_graph(a.graph, gnn::parse_reorder(a.reorder), a.block, a.common.seed, false,
                         16 * static_cast<std::uint64_t>(a.dim));
  gnn::SelectorOptions so;
  so.device = gnn::Device::kCuda;
  so.reps = 20;
  gnn::AdaptiveAggregator agg(std::move(g.ahat), g.order.block_starts, so, 1);
  agg.plan_for(a.dim);
  const Json sel = agg.explain()[std::to_string(a.dim)];
  Json doc = {
      {"graph", a.graph},
      {"device", "cuda"},
      {"gpu", cuda_devices().front().name},
      {"nodes", agg.matrix().rows},
      {"nnz", agg.matrix().nnz()},
      {"dim", a.dim},
      {"reorder",
       {{"method", a.reorder}, {"seconds", g.order.seconds}, {"communities", g.order.communities}}},
      {"candidates", sel["candidates"]},
      {"choice", sel["chosen"]},
      {"anchor_cusparse_ms", sel["anchor_cusparse_ms"]},
      {"selection_seconds", agg.selection_seconds()}};
  if (a.common.json) {
    write_json(std::cout, doc);
    return;
  }
  std::cout << "graph " << a.graph << " on " << doc["gpu"].get<std::string>() << ": "
            << agg.matrix().rows << " nodes, " << agg.matrix().nnz() << " nnz in A_hat; width "
            << a.dim << "\n";
  TextTable t({"candidate", "dense", "medium", "sparse", "predicted ms", "measured ms"});
  for (const auto& c : doc["candidates"]) {
    const Json k = c.value("kernels", Json::object());
    const std::string whole = c.value("whole", "");
    t.add_row({c["label"], k.value("dense", whole), k.value("medium", whole),
               k.value("sparse", whole), fmt_num(c["predicted_ms"].get<double>(), 3),
               c["measured_ms"].is_number() ? fmt_num(c["measured_ms"].get<double>(), 3) : "-"});
  }
  t.print(std::cout);
  std::cout << "\nchoice: " << doc["choice"]["label"].get<std::string>()
            << " (fastest measured of ours; cusparseSpMM is the anchor, never chosen)\n";
}

void run_plan(const PlanArgs& a) {
  require_device(a.device);
  if (a.device == "cuda") return run_plan_cuda(a);
  ThreadScope threads(a.common.threads);
  const auto method = gnn::parse_reorder(a.reorder);
  std::cerr << "gnn plan: loading " << a.graph << "\n";
  // Per node: X, Y and the selector's two scratch outputs, dim floats each.
  const std::uint64_t bytes_per_node = 16 * static_cast<std::uint64_t>(a.dim);
  gnn::PreparedGraph g =
      gnn::prepare_graph(a.graph, method, a.block, a.common.seed, false, bytes_per_node);
  gnn::SelectorOptions so;
  so.use_cache = !a.no_cache;
  gnn::AdaptiveAggregator agg(std::move(g.ahat), g.order.block_starts, so, threads.threads());
  const Json doc = gnn::plan_document(a.graph, a.reorder, g.order, agg, a.dim, threads.threads());
  if (a.common.json)
    write_json(std::cout, doc);
  else
    gnn::write_plan_text(std::cout, doc);
}
}  // namespace

void register_gnn_plan(CLI::App& gnn) {
  auto args = std::make_shared<PlanArgs>();
  auto* cmd = gnn.add_subcommand("plan", "Show the density split and the kernels chosen for it");
  cmd->add_option("--graph", args->graph, "name (cora), path, or sbm:/rmat: spec")->required();
  cmd->add_option("--dim", args->dim, "feature width")->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--reorder", args->reorder, "metis|lp|degree|none")->capture_default_str();
  cmd->add_option("--block", args->block, "largest diagonal block (nodes; 512 with cuda)")
      ->check(CLI::Range(8, 4096))
      ->capture_default_str()
      ->each([args](const std::string&) { args->block_given = true; });
  cmd->add_flag("--no-cache", args->no_cache, "ignore the cached choice and measure again");
  add_device_flag(*cmd, args->device);
  add_common_flags(*cmd, args->common);
  cmd->callback([args] { run_plan(*args); });
}

}  // namespace gearbox::apps
