// The gnn subcommands, one file each.
#pragma once

#include <CLI/CLI.hpp>

namespace gearbox::apps {

// `gearbox gnn plan`: decomposition, candidates, predicted vs measured, choice.
void register_gnn_plan(CLI::App& gnn);
// `gearbox gnn train`: full-batch GCN training.
void register_gnn_train(CLI::App& gnn);
// `gearbox gnn bench`: aggregation and epoch times against the baselines.
void register_gnn_bench(CLI::App& gnn);

}  // namespace gearbox::apps
