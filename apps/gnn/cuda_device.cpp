// The GPU paths of the gnn commands (see cuda_device.hpp).
#include "cuda_device.hpp"

#include <cstdio>

#include "gearbox/core/cuda.hpp"
#include "gearbox/core/error.hpp"

#ifdef GEARBOX_GNN_CUDA
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
  gnn::cuda::register_cuda();
#endif
}

#ifdef GEARBOX_GNN_CUDA

gnn::TrainResult train_gcn_on_cuda(const gnn::Dataset& d, const gnn::Features& x,
                                   const gnn::AggregateFn& aggregate, const gnn::TrainConfig& cfg,
                                   std::ostream* progress) {
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

gnn::TrainResult train_gcn_on_cuda(const gnn::Dataset&, const gnn::Features&,
                                   const gnn::AggregateFn&, const gnn::TrainConfig&,
                                   std::ostream*) {
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
