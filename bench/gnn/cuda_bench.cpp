// gnn aggregation on the GPU over a list of graphs (run_device_bench, device_bench.hpp):
// our CUDA kernels and the adaptive plan beside our own call of cusparseSpMM, at several
// widths, plus a GCN train step. `gearbox gnn bench --device cuda` runs the same code on
// one graph and width.
//
//   gnn_cuda_bench [--graphs "cora;pubmed;sbm:..."] [--dims "32;128"] [--reps 30]
//                  [--reorder lp] [--max-block 512] [--json-out FILE] [--dump-edges DIR]
//
// --dump-edges writes each graph's adjacency (given node order) as int32 (row, col) pairs for
// the PyG script (bench/gnn/cuda_pyg.py), so that both time the same graphs.
#include <cstdio>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "gearbox/core/cli.hpp"
#include "gearbox/gnn/cuda/device_bench.hpp"

using namespace gearbox;
using namespace gearbox::gnn;

namespace {
std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, ';'))
    if (!item.empty()) out.push_back(item);
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gnn CUDA aggregation benchmark: our kernels vs cusparseSpMM"};
  cuda::DeviceBenchOptions o;
  std::string graphs_arg, dims_arg = "32;128", reorder = "lp";
  bool no_train = false;
  app.add_option("--graphs", graphs_arg,
                 "';'-separated graph names/paths/specs (default: every shared graph, "
                 "sbm:n=1000000,block=512,din=25,dout=6,seed=0 and rmat:scale=20,ef=16,seed=0)");
  app.add_option("--dims", dims_arg, "';'-separated feature widths");
  app.add_option("--reps", o.reps, "timed runs per measurement (median reported)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--reorder", reorder, "none, degree, lp or metis");
  app.add_option("--max-block", o.max_block, "largest diagonal block")
      ->check(CLI::Range(2, 1 << 20));
  app.add_option("--seed", o.seed, "reordering seed");
  app.add_option("--json-out", o.json_out, "also write the results as JSON here");
  app.add_option("--dump-edges", o.dump_edges,
                 "write each graph's edges (int32 pairs) here for PyG");
  app.add_flag("--no-train", no_train, "skip the GCN train-step timing");
  app.add_option("--hidden", o.hidden, "GCN hidden width for the train step");
  app.add_option("--classes", o.classes, "GCN classes for the train step");
  app.callback([&] {
    o.reorder = parse_reorder(reorder);
    o.graphs = split_list(graphs_arg);
    if (o.graphs.empty()) o.graphs = cuda::default_device_bench_graphs();
    o.dims.clear();
    for (const auto& d : split_list(dims_arg)) o.dims.push_back(std::stoi(d));
    o.train = !no_train;
    cuda::run_device_bench(o, stdout, stderr);
  });
  return run_cli(app, argc, argv, std::cout, std::cerr);
}
