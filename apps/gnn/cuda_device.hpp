// `--device cuda` for the gnn commands: the GPU paths of plan, train and bench, compiled to
// a clear usage error when this gearbox was built without CUDA.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "gearbox/core/output.hpp"
#include "gearbox/gnn/gcn.hpp"
#include "gearbox/gnn/prepare.hpp"

namespace gearbox::apps {

// Adds `--device cpu|cuda` (default cpu) to cmd.
CLI::Option* add_device_flag(CLI::App& cmd, std::string& device);

// For "cuda": Error::usage when built without CUDA, Error::runtime when no device is visible.
void require_device(const std::string& device);

// The device selector's measurements and choice for width `dim` on g's A_hat.
Json plan_on_cuda(const gnn::PreparedGraph& g, int dim, int reps);

// train_gcn's contract on the GPU: selects a plan per aggregated width (hidden, classes),
// or whole-graph CSR when !adaptive, trains with every array on the device, and fills `plan`
// with the selector's explanations and `kernels` with the chosen candidate per width.
gnn::TrainResult train_on_cuda(const gnn::PreparedGraph& g, const gnn::Features& x,
                               const gnn::TrainConfig& cfg, bool adaptive, std::ostream* progress,
                               Json& plan, Json& kernels, double& selection_seconds);

// The device benchmark (run_device_bench) on one graph and width; the table goes to `table`.
Json bench_on_cuda(const std::string& graph, int dim, int reps, const std::string& reorder,
                   int max_block, std::uint64_t seed, bool train, std::FILE* table);

}  // namespace gearbox::apps
