// Measures the CPU aggregation levers one by one on one graph, interleaved in the same rounds
// (so that a busy machine slows all alike), each as a same-run ratio to plain CSR on the
// reordered graph: the panel kernel (AVX-512 / AVX2), with and without feature tiling, and
// the bytes floor at a given bandwidth.
// Usage: gnn_panel_levers GRAPH [DIM] [THREADS] [MAX_BLOCK] [ROUNDS]
//   e.g. gnn_panel_levers sbm:n=200000,block=256,din=16,dout=4,seed=0 128 2 1024 15
#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "gearbox/core/stats.hpp"
#include "gearbox/gnn/kernels.hpp"
#include "gearbox/gnn/prepare.hpp"
#include "lever_args.hpp"

using namespace gearbox;
using namespace gearbox::gnn;

int main(int argc, char** argv) {
  const auto args = bench::parse_lever_args(argc, argv, 15);
  if (!args) return 2;
  const std::string graph = args->graph;
  const int f = args->dim;
  const int threads = args->threads;
  const int block = args->max_block;
  const int rounds = args->rounds;
  omp_set_num_threads(threads);
  const PreparedGraph p = prepare_graph(graph, ReorderMethod::kLabelProp, block, 0, false);
  const Csr& a = p.ahat;
  const Subgraph whole{&a, diagonal_blocks(a, p.order.block_starts)};
  std::vector<float> x(static_cast<std::size_t>(a.rows) * f), y(x.size());
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(-1, 1);
  for (auto& v : x) v = d(rng);
  struct Variant {
    std::string name;
    std::unique_ptr<Kernel> k;  // null: plain CSR
  };
  std::vector<Variant> vs;
  vs.push_back({"csr (reordered)", nullptr});
  vs.push_back({"panel (registry default)", make_panel_kernel(whole, SimdLevel::kAvx512)});
  vs.push_back(
      {"panel avx512, untiled (64-wide)", make_panel_kernel(whole, SimdLevel::kAvx512, 1)});
  vs.push_back(
      {"panel avx512, 128 KiB tiles", make_panel_kernel(whole, SimdLevel::kAvx512, 128 << 10)});
  vs.push_back({"panel avx2, 32 KiB tiles", make_panel_kernel(whole, SimdLevel::kAvx2)});
  for (int pd : {0, 4, 8, 16})
    vs.push_back({"panel avx512, 32 KiB tiles, prefetch " + std::to_string(pd),
                  make_panel_kernel(whole, SimdLevel::kAvx512, kPanelTileBytes, pd)});
  std::vector<std::vector<double>> ms(vs.size());
  for (int r = -1; r < rounds; ++r)
    for (std::size_t i = 0; i < vs.size(); ++i) {
      Stopwatch w;
      if (vs[i].k)
        vs[i].k->run(x.data(), f, y.data(), false);
      else
        spmm_csr(a, x.data(), f, y.data(), false);
      if (r >= 0) ms[i].push_back(w.ms());  // round -1 is the warm-up
    }
  const double bytes = static_cast<double>(a.nnz()) * 8 + (a.rows + 1) * 8.0 + 2.0 * a.rows * f * 4;
  std::printf(
      "%s: %d nodes, %lld nnz, F=%d, %d threads, best SIMD %s, %zu blocks; compulsory %.1f MB\n",
      graph.c_str(), a.rows, static_cast<long long>(a.nnz()), f, threads, simd_name(best_simd()),
      whole.blocks.size(), bytes / 1e6);
  std::printf("%-34s %10s %12s %8s\n", "variant", "median ms", "csr/variant", "GB/s");
  for (std::size_t i = 0; i < vs.size(); ++i) {
    std::vector<double> ratio;
    for (int r = 0; r < rounds; ++r) ratio.push_back(ms[0][r] / ms[i][r]);
    const double med = summarize(ms[i]).median;
    std::printf("%-34s %10.3f %11.3fx %8.2f\n", vs[i].name.c_str(), med, summarize(ratio).median,
                bytes / (med * 1e-3) / 1e9);
  }
  return 0;
}
