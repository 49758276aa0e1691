// The GPU paths of the gnn commands (see cuda_device.hpp).
#include "cuda_device.hpp"

#include <cstdio>
#include <memory>

#include "gearbox/core/cuda.hpp"
#include "gearbox/core/error.hpp"
#include "gearbox/core/stats.hpp"
#include "gearbox/gnn/density_split.hpp"

#ifdef GEARBOX_GNN_CUDA
#include "gearbox/gnn/cuda/cuda_kernels.hpp"
#include "gearbox/gnn/cuda/device_bench.hpp"
#include "gearbox/gnn/cuda/device_plan.hpp"
#include "gearbox/gnn/cuda/gcn_cuda.hpp"
#endif

namespace gearbox::apps {

CLI::Option* add_device_flag(CLI::App& cmd, std::string& device) {
  return cmd.add_option("--device", device, "cpu, or cuda (the first GPU)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
}

void require_device(const std::string& device) {
  if (device != "cuda") return;
#ifndef GEARBOX_GNN_CUDA
  throw Error::usage("this gearbox was built without CUDA (no nvcc at configure time)")
      .field("--device")
      .expected("cpu")
      .found(device);
#else
  if (cuda_devices().empty())
    throw Error::runtime("no CUDA device visible (see `gearbox doctor`)").field("--device");
#endif
}

#ifdef GEARBOX_GNN_CUDA

Json plan_on_cuda(const gnn::PreparedGraph& g, int dim, int reps) {
  const auto blocks = gnn::diagonal_blocks(g.ahat, g.order.block_starts);
  Stopwatch sw;
  const auto sels =
      gnn::cuda::select_device_plans(g.ahat, blocks, {dim}, reps, gnn::cuda::gpu_machine_profile());
  Json j = sels.front().explain();
  j["selection_seconds"] = sw.seconds();
  j["device"] = cuda_devices().front().name;
  return j;
}

gnn::TrainResult train_on_cuda(const gnn::PreparedGraph& g, const gnn::Features& x,
                               const gnn::TrainConfig& cfg, bool adaptive, std::ostream* progress,
                               Json& plan, Json& kernels, double& selection_seconds) {
  const gnn::Dataset& d = g.data;
  const auto blocks = gnn::diagonal_blocks(g.ahat, g.order.block_starts);
  const std::vector<int> widths{cfg.hidden, d.num_classes};
  Stopwatch sw;
  std::vector<gnn::cuda::DeviceSelection> sels(widths.size());
  if (adaptive) {
    sels = gnn::cuda::select_device_plans(g.ahat, blocks, widths, 10,
                                          gnn::cuda::gpu_machine_profile());
  } else {  // --kernels csr: our CSR kernel on the whole graph, no selection
    gnn::cuda::DeviceCandidate csr;
    csr.label = "whole csr";
    csr.whole = "csr";
    for (auto& s : sels) s.candidates = {csr};
  }
  std::vector<std::unique_ptr<gnn::cuda::DevicePlan>> plans;
  plan = Json::object();
  kernels = Json::object();
  for (std::size_t i = 0; i < widths.size(); ++i) {
    const auto& c = sels[i].candidates[sels[i].chosen];
    plans.push_back(std::make_unique<gnn::cuda::DevicePlan>(g.ahat, blocks, c));
    plan[std::to_string(widths[i])] = sels[i].explain();
    kernels[std::to_string(widths[i])] = c.to_json();
  }
  selection_seconds = sw.seconds();
  const auto aggregate = [&](const float* in, int f, float* out) {
    const auto& p = f == widths[1] ? *plans[1] : *plans[0];
    p.run(in, f, out);
  };
  return gnn::cuda::train_gcn_device(d.nodes(), x, d.labels, d.num_classes, d.train, d.val, d.test,
                                     aggregate, cfg, progress);
}

Json bench_on_cuda(const std::string& graph, int dim, int reps, const std::string& reorder,
                   int max_block, std::uint64_t seed, bool train, std::FILE* table) {
  gnn::cuda::DeviceBenchOptions o;
  o.graphs = {graph};
  o.dims = {dim};
  o.reps = reps;
  o.reorder = gnn::parse_reorder(reorder);
  o.max_block = max_block;
  o.seed = seed;
  o.train = train;
  return gnn::cuda::run_device_bench(o, table, stderr);
}

#else  // built without CUDA: require_device() has refused before any of these is reached

Json plan_on_cuda(const gnn::PreparedGraph&, int, int) {
  require_device("cuda");
  return {};
}
gnn::TrainResult train_on_cuda(const gnn::PreparedGraph&, const gnn::Features&,
                               const gnn::TrainConfig&, bool, std::ostream*, Json&, Json&,
                               double&) {
  require_device("cuda");
  return {};
}
Json bench_on_cuda(const std::string&, int, int, const std::string&, int, std::uint64_t, bool,
                   std::FILE*) {
  require_device("cuda");
  return {};
}

#endif

}  // namespace gearbox::apps
