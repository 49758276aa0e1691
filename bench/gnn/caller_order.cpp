// What X and Y in the caller's node order cost (the PyTorch extension's case, MatrixPlan):
// for the CSR and panel kernels on the reordered graph, interleaved in the same rounds,
// (1) the kernel in the planned order (X already permuted: what `gnn bench` times),
// (2) the kernel reading X and writing Y through the permutation (in_caller_order, fused),
// (3) X copied into the planned order, the kernel, Y copied back (the path before fusing),
// each as a same-run ratio to (1) of the same kernel; CSR in the given order as the anchor.
// Usage: gnn_caller_order GRAPH [DIM] [THREADS] [MAX_BLOCK] [ROUNDS]
//   e.g. gnn_caller_order sbm:n=20000,block=64,din=16,dout=2,seed=0 128 2 1024 21
#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
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
  const auto args = bench::parse_lever_args(argc, argv, 21);
  if (!args) return 2;
  const std::string graph = args->graph;
  const int f = args->dim;
  const int threads = args->threads;
  const int block = args->max_block;
  const int rounds = args->rounds;
  omp_set_num_threads(threads);
  const PreparedGraph given = prepare_graph(graph, ReorderMethod::kNone, block, 0, false);
  const PreparedGraph re = prepare_graph(graph, ReorderMethod::kLabelProp, block, 0, false);
  const Csr& a = re.ahat;
  const index_t n = a.rows;
  std::vector<index_t> old_of_new(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) old_of_new[re.order.new_of_old[i]] = i;
  const Subgraph whole{&a, diagonal_blocks(a, re.order.block_starts)};
  const std::size_t size = static_cast<std::size_t>(n) * f, row = sizeof(float) * f;
  std::vector<float> x(size), y(size), xp(size), yp(size);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(-1, 1);
  for (auto& v : x) v = d(rng);
  const auto copied = [&](const Kernel& k) {
#pragma omp parallel for schedule(static)
    for (index_t i = 0; i < n; ++i)
      std::memcpy(xp.data() + static_cast<std::size_t>(i) * f,
                  x.data() + static_cast<std::size_t>(old_of_new[i]) * f, row);
    k.run(xp.data(), f, yp.data(), false);
#pragma omp parallel for schedule(static)
    for (index_t i = 0; i < n; ++i)
      std::memcpy(y.data() + static_cast<std::size_t>(old_of_new[i]) * f,
                  yp.data() + static_cast<std::size_t>(i) * f, row);
  };
  struct Variant {
    std::string name;
    std::function<void()> run;
    std::size_t planned;  // index of the variant this one is compared to
  };
  std::vector<std::unique_ptr<Kernel>> ks;
  std::vector<Variant> vs;
  vs.push_back({"csr given order", [&] { spmm_csr(given.ahat, x.data(), f, y.data(), false); }, 0});
  for (const char* name : {"csr", "panel"}) {
    ks.push_back(find_kernel(name).make(whole));
    const Kernel& k = *ks.back();
    ks.push_back(k.in_caller_order(old_of_new));
    const Kernel& fused = *ks.back();
    const std::size_t planned = vs.size();
    vs.push_back({std::string(name) + " planned order",
                  [&] { k.run(xp.data(), f, yp.data(), false); }, planned});
    vs.push_back({std::string(name) + " caller order, fused",
                  [&] { fused.run(x.data(), f, y.data(), false); }, planned});
    vs.push_back({std::string(name) + " caller order, copied", [&] { copied(k); }, planned});
  }
  std::vector<std::vector<double>> ms(vs.size());
  for (int r = -1; r < rounds; ++r)
    for (std::size_t i = 0; i < vs.size(); ++i) {
      Stopwatch w;
      vs[i].run();
      if (r >= 0) ms[i].push_back(w.ms());  // round -1 is the warm-up
    }
  std::printf("%s: %d nodes, %lld nnz, F=%d, %d threads, %d rounds\n", graph.c_str(), n,
              static_cast<long long>(a.nnz()), f, threads, rounds);
  std::printf("%-30s %10s %16s\n", "variant", "median ms", "variant/planned");
  for (std::size_t i = 0; i < vs.size(); ++i) {
    std::vector<double> ratio;
    for (int r = 0; r < rounds; ++r) ratio.push_back(ms[i][r] / ms[vs[i].planned][r]);
    std::printf("%-30s %10.3f %15.3fx\n", vs[i].name.c_str(), summarize(ms[i]).median,
                summarize(ratio).median);
  }
  return 0;
}
