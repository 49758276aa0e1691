// The epoch loop every trainer shares, whatever runs the model (the CPU models of models.hpp,
// GCN with every array on the GPU): per epoch one timed training step, then (every epoch or
// the last) the validation accuracy and a progress line; at the end the accuracy on every
// split and the median epoch time. A trainer supplies only its steps.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <utility>
#include <vector>

#include "gearbox/gnn/gcn.hpp"

namespace gearbox::gnn {

enum class Split { kTrain, kVal, kTest };

struct TrainSteps {
  // One training epoch (forward with the epoch's dropout, loss, backward, update): the loss
  // (weight decay included) and the training accuracy of that forward pass.
  std::function<std::pair<double, double>(int epoch)> train_epoch;
  // An evaluation forward pass (no dropout) ...
  std::function<void()> evaluate;
  // ... and the accuracy of its logits on a split (0 for an empty split).
  std::function<double(Split)> accuracy;
};

// Error::input unless there is a label per node, at least one class and a training split.
void check_training_inputs(index_t nodes, const std::vector<std::int32_t>& labels, int classes,
                           const std::vector<index_t>& train);

// Runs cfg.epochs epochs of `steps`; `progress` (may be null) gets one line per epoch.
// aggregate_ms_total is left to the caller.
TrainResult run_epochs(const TrainSteps& steps, const TrainConfig& cfg, std::ostream* progress);

}  // namespace gearbox::gnn
