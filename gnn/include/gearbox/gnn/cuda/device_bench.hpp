// The aggregation benchmark on the GPU, shared by `gearbox gnn bench --device cuda` and
// bench/gnn/cuda_bench: per graph (in the given order and reordered) and per width, our CSR
// kernel, the adaptive plan the device selector chooses, and our own call of cusparseSpMM on
// the same CSR, each the median of `reps` CUDA-event timings; the outputs checked against
// cuSPARSE in the same run; GB/s by the one-pass byte floor (CSR + X once + Y once) against
// the copy bandwidth measured in the same run; and a 2-layer GCN train step on the device.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gearbox/gnn/reorder.hpp"

namespace gearbox::gnn::cuda {

struct DeviceBenchOptions {
  std::vector<std::string> graphs;  // names, paths or generator specs
  std::vector<int> dims{32, 128};   // feature widths
  int reps = 30;                    // timed runs per measurement
  ReorderMethod reorder = ReorderMethod::kLabelProp;
  int max_block = 512;     // largest diagonal block
  std::uint64_t seed = 0;  // reordering seed
  std::string json_out;    // rewritten after each graph when set
  std::string dump_edges;  // folder for int32 edge pairs (for bench/gnn/cuda_pyg.py)
  bool train = true;       // also time a GCN train step (last width -> hidden -> classes),
                           // its products in FP32 and on TF32 tensor cores
  int hidden = 128, classes = 16;
};

// Every shared graph with an adjacency file, then sbm and rmat graphs of about 1M nodes.
std::vector<std::string> default_device_bench_graphs();

// Runs the benchmark, printing one table row per graph and width to `table` and progress to
// `progress`; returns every row as JSON. Error::runtime without a CUDA device.
nlohmann::json run_device_bench(const DeviceBenchOptions& o, std::FILE* table, std::FILE* progress);

}  // namespace gearbox::gnn::cuda
