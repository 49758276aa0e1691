// `--device cuda` for the gnn commands: registering the GPU with the plan API, and the parts
// that only exist on it (the device GCN trainer, the device benchmark), compiled to a clear
// usage error when this gearbox was built without CUDA.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "gearbox/core/output.hpp"
#include "gearbox/gnn/gcn.hpp"
#include "gearbox/gnn/kernels.hpp"
#include "gearbox/gnn/prepare.hpp"

namespace gearbox::apps {

// Adds `--device cpu|cuda` (default cpu) to cmd.
CLI::Option* add_device_flag(CLI::App& cmd, std::string& device);
// The engine's device for a checked --device value.
inline gnn::Device device_of(const std::string& device) {
  return device == "cuda" ? gnn::Device::kCuda : gnn::Device::kCpu;
}

// For "cuda": Error::usage when built without CUDA, Error::runtime when no device is visible;
// otherwise registers the GPU with the gnn engine's plan API (gnn::cuda::register_cuda()).
void require_device(const std::string& device);

// train_gcn's contract with every array on the GPU (gnn::cuda::train_gcn_device);
// `aggregate` takes device pointers (a plan built for Device::kCuda).
gnn::TrainResult train_gcn_on_cuda(const gnn::Dataset& d, const gnn::Features& x,
                                   const gnn::AggregateFn& aggregate, const gnn::TrainConfig& cfg,
                                   std::ostream* progress);

// The device benchmark (run_device_bench) on one graph and width; the table goes to `table`.
Json bench_on_cuda(const std::string& graph, int dim, int reps, const std::string& reorder,
                   int max_block, std::uint64_t seed, bool train, std::FILE* table);

}  // namespace gearbox::apps
