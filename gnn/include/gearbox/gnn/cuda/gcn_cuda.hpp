// GCN training on the GPU: train_gcn (gcn.hpp) with the same model, initialisation, dropout
// masks (the same counter-based random numbers), loss, weight decay, Adam and epoch loop
// (train_loop.hpp), but with features, weights, activations, gradients and optimiser state on
// the device. `aggregate` receives DEVICE pointers (for instance the run of a plan built for
// Device::kCuda on A_hat). Per epoch only the loss and the accuracy counts come back to the
// host. FP32 throughout (cuBLAS SGEMM without TF32).
#pragma once

#include <iosfwd>
#include <vector>

#include "gearbox/gnn/gcn.hpp"

namespace gearbox::gnn::cuda {

TrainResult train_gcn_device(index_t nodes, const Features& x,
                             const std::vector<std::int32_t>& labels, int classes,
                             const std::vector<index_t>& train, const std::vector<index_t>& val,
                             const std::vector<index_t>& test, const AggregateFn& aggregate,
                             const TrainConfig& cfg, std::ostream* progress);

}  // namespace gearbox::gnn::cuda
