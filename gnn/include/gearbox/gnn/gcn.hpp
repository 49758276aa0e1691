// Two-layer GCN (Kipf & Welling 2017) trained full-batch: Z = A_hat relu(A_hat X W1) W2 with
// dropout on the input and hidden features, softmax cross-entropy on the training nodes, L2
// weight decay on the first layer only, Glorot-uniform init, Adam. Every aggregation with
// A_hat -- forward, and backward through A_hat^T = A_hat (symmetric) -- goes through the
// caller's aggregation function, so the adaptive kernels serve training end to end.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "gearbox/gnn/csr.hpp"

namespace gearbox::gnn {

// Y = A_hat X for an n x f row-major X.
using AggregateFn = std::function<void(const float* x, int f, float* y)>;

// Node features: either sparse (CSR, n x in_dim) or dense row-major n x in_dim.
struct Features {
  const Csr* sparse = nullptr;
  const float* dense = nullptr;
  int in_dim = 0;
};

struct TrainConfig {
  int epochs = 200;
  int hidden = 16;
  float lr = 0.01f;
  float weight_decay = 5e-4f;
  float dropout = 0.5f;
  std::uint64_t seed = 0;
  bool evaluate_each_epoch = true;  // val accuracy per epoch (not timed)
  // The device trainer's dense products on TF32 tensor cores (10-bit mantissa inputs, FP32
  // accumulation) instead of FP32; the CPU trainers refuse it.
  bool tf32 = false;
};

struct EpochStats {
  int epoch = 0;
  double ms = 0;  // forward + backward + update
  double loss = 0, train_acc = 0, val_acc = 0;
};

struct TrainResult {
  std::vector<EpochStats> epochs;
  double train_acc = 0, val_acc = 0, test_acc = 0;  // after the last epoch
  double epoch_ms_median = 0;
  double aggregate_ms_total = 0;  // time inside the aggregation function
};

// Trains a GCN with `classes` outputs on `labels` (-1 = unlabelled) over the given splits.
// `progress` (may be null) gets one line per epoch.
TrainResult train_gcn(index_t nodes, const Features& x, const std::vector<std::int32_t>& labels,
                      int classes, const std::vector<index_t>& train,
                      const std::vector<index_t>& val, const std::vector<index_t>& test,
                      const AggregateFn& aggregate, const TrainConfig& cfg, std::ostream* progress);

}  // namespace gearbox::gnn
