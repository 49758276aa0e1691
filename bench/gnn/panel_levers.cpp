// Measures the CPU aggregation levers one by one on one graph, interleaved in the same rounds
// (so that a busy machine slows all alike), each as a same-run ratio to plain CSR on the
// reordered graph: the panel kernel (AVX-512 / AVX2), with and without feature tiling, in row
// mode, with software prefetch distances, the split into the entries inside their row's
// diagonal block and those outside, each timed alone, and plain CSR with X and Y in the
// caller's node order (the PyTorch extension's case: the permutation fused, or the graph as
// given, or MatrixPlan's measured choice between them).
// Usage: gnn_panel_levers GRAPH [DIM] [THREADS] [MAX_BLOCK] [ROUNDS] [ONLY]
//   e.g. gnn_panel_levers sbm:n=200000,block=256,din=16,dout=4,seed=0 128 2 1024 15
//   ONLY (optional): comma-separated parts of variant names to run, e.g. "registry,inside,outside"
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gearbox/core/huge_pages.hpp"
#include "gearbox/core/stats.hpp"
#include "gearbox/gnn/density_split.hpp"
#include "gearbox/gnn/kernels.hpp"
#include "gearbox/gnn/matrix_plan.hpp"
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
  // Decomposition: the entries inside their row's diagonal block (medium class when every
  // block counts as medium) and those outside (the sparse remainder), each timed alone.
  const DensitySplit parts = split_by_density(a, whole.blocks, {1e300, 0.0});
  const Csr& inside = parts.of(DensityClass::kMedium);
  const Csr& outside = parts.of(DensityClass::kSparse);
  struct Variant {
    std::string name;
    std::function<void()> run;
  };
  std::vector<std::unique_ptr<Kernel>> keep;
  std::vector<Variant> vs;
  const auto kernel = [&](std::string name, std::unique_ptr<Kernel> k) {
    const Kernel* raw = k.get();
    keep.push_back(std::move(k));
    vs.push_back({std::move(name), [&, raw] { raw->run(x.data(), f, y.data(), false); }});
  };
  vs.push_back({"csr (reordered)", [&] { spmm_csr(a, x.data(), f, y.data(), false); }});
  // X and Y in the caller's (given) order, as the PyTorch extension has them: plain CSR on the
  // reordered rows with the permutation fused into the loop (X read and Y written through it;
  // and each half alone), plain CSR on the graph as given, and MatrixPlan choosing between the
  // two by measurement (X here stands for the caller's X: the same random values).
  std::vector<index_t> old_of_new(p.order.new_of_old.size());
  for (std::size_t i = 0; i < old_of_new.size(); ++i)
    old_of_new[static_cast<std::size_t>(p.order.new_of_old[i])] = static_cast<index_t>(i);
  const Csr caller = remap_columns(a, old_of_new);
  vs.push_back({"csr, caller's order (permutation fused)",
                [&] { spmm_csr(caller, x.data(), f, y.data(), false, old_of_new.data()); }});
  vs.push_back(
      {"csr, X caller Y planned", [&] { spmm_csr(caller, x.data(), f, y.data(), false); }});
  vs.push_back({"csr, X planned Y caller",
                [&] { spmm_csr(a, x.data(), f, y.data(), false, old_of_new.data()); }});
  const PreparedGraph given = prepare_graph(graph, ReorderMethod::kNone, block, 0, false);
  vs.push_back({"csr, given order", [&] { spmm_csr(given.ahat, x.data(), f, y.data(), false); }});
  vs.push_back(
      {"csr, given order, pf 0", [&] { spmm_csr_nopf(given.ahat, x.data(), f, y.data(), false); }});
  MatrixPlanOptions mo;
  mo.threads = threads;
  mo.max_block = block;
  mo.selector.use_cache = false;
  MatrixPlan mplan(given.ahat, f, mo);
  std::fprintf(stderr, "matrix plan: %s %s\n", mplan.kernels().dump().c_str(),
               mplan.document()["caller_order_measured"].dump().c_str());
  vs.push_back({"matrix plan (caller's order, as chosen)",
                [&] { mplan.run(x.data(), f, y.data(), false); }});
  // The CSR loop's own levers: the AVX2 loop (the default before the AVX-512 one) and the
  // AVX-512 loop's prefetch distance.
  vs.push_back({"csr avx2", [&] {
                  spmm_csr_simd(a, x.data(), f, y.data(), false, nullptr, SimdLevel::kAvx2);
                }});
  vs.push_back({"csr avx2, pf 0", [&] {
                  spmm_csr_simd(a, x.data(), f, y.data(), false, nullptr, SimdLevel::kAvx2, 0);
                }});
  for (const auto& [into, name] : {std::pair{PrefetchInto::kL1, "L1"}, {PrefetchInto::kL2, "L2"}})
    vs.push_back({std::string("csr avx2, pf 16 into ") + name, [&, into] {
                    spmm_csr_simd(a, x.data(), f, y.data(), false, nullptr, SimdLevel::kAvx2,
                                  kCsrPrefetch, into);
                  }});
  for (int pd : {0, 8, 16, 32})
    vs.push_back({"csr avx512, pf " + std::to_string(pd), [&, pd] {
                    spmm_csr_simd(a, x.data(), f, y.data(), false, nullptr, SimdLevel::kAvx512, pd);
                  }});
  // The prefetch's target cache forced either way (the default, kAuto, takes L2 from 128-float
  // row slices on).
  for (const auto& [into, name] : {std::pair{PrefetchInto::kL1, "L1"}, {PrefetchInto::kL2, "L2"}}) {
    for (int pd : {16, 32})
      vs.push_back(
          {std::string("csr avx512 into ") + name + ", pf " + std::to_string(pd), [&, pd, into] {
             spmm_csr_simd(a, x.data(), f, y.data(), false, nullptr, SimdLevel::kAvx512, pd, into);
           }});
    vs.push_back({std::string("csr, given order, into ") + name, [&, into] {
                    spmm_csr_simd(given.ahat, x.data(), f, y.data(), false, nullptr, best_simd(),
                                  kCsrPrefetch, into);
                  }});
    kernel(std::string("panel (registry default) into ") + name,
           make_panel_kernel(whole, best_simd(), kPanelRowMode, kPanelPrefetch, into));
  }
  kernel("panel (registry default)", make_panel_kernel(whole, best_simd()));
  kernel("panel avx512, untiled (64-wide)", make_panel_kernel(whole, SimdLevel::kAvx512, 1));
  kernel("panel avx2, row mode", make_panel_kernel(whole, SimdLevel::kAvx2));
  for (int pd : {0, 16})
    kernel("panel avx512, 32 KiB tiles, pf " + std::to_string(pd),
           make_panel_kernel(whole, SimdLevel::kAvx512, kPanelTileBytes, pd));
  for (int pd : {0, 8, 16})
    kernel("panel avx512, row mode, pf " + std::to_string(pd),
           make_panel_kernel(whole, SimdLevel::kAvx512, 0, pd));
  // X at a 64-byte boundary (std::vector gives 16): CSR's loads of a row then never split
  // across two cache lines; the panel kernel reads from the boundary below when X and Y share
  // their misalignment, so it should gain nothing here.
  std::vector<float> x_store(x.size() + 16), y_store(y.size() + 16);
  const auto aligned = [](std::vector<float>& v) {
    return v.data() + (64 - reinterpret_cast<std::uintptr_t>(v.data()) % 64) % 64 / 4;
  };
  float* xa = aligned(x_store);
  float* ya = aligned(y_store);
  std::copy(x.begin(), x.end(), xa);
  vs.push_back({"csr (reordered), X Y 64-byte aligned", [&] { spmm_csr(a, xa, f, ya, false); }});
  vs.push_back({"csr, caller's order (fused), X Y 64-byte aligned",
                [&] { spmm_csr(caller, xa, f, ya, false, old_of_new.data()); }});
  vs.push_back(
      {"csr, given order, X Y 64-byte aligned", [&] { spmm_csr(given.ahat, xa, f, ya, false); }});
  vs.push_back({"csr avx2, X Y 64-byte aligned",
                [&] { spmm_csr_simd(a, xa, f, ya, false, nullptr, SimdLevel::kAvx2); }});
  {
    auto k = make_panel_kernel(whole, best_simd());
    const Kernel* raw = k.get();
    keep.push_back(std::move(k));
    vs.push_back({"panel (registry default), X Y 64-byte aligned",
                  [&, raw] { raw->run(xa, f, ya, false); }});
  }
  // X and Y on 2 MiB pages (transparent huge pages asked for with madvise; the machine's
  // default is 4 KiB pages, so every random gather of an X row is a TLB miss and a page walk).
  HugePageFloats xh_store(x.size()), yh_store(y.size());
  float* xh = xh_store.data();
  float* yh = yh_store.data();
  std::copy(x.begin(), x.end(), xh);
  vs.push_back({"csr (reordered), X Y on 2 MiB pages", [&] { spmm_csr(a, xh, f, yh, false); }});
  {
    auto k = make_panel_kernel(whole, best_simd());
    const Kernel* raw = k.get();
    keep.push_back(std::move(k));
    vs.push_back(
        {"panel (registry default), X Y on 2 MiB pages", [&, raw] { raw->run(xh, f, yh, false); }});
  }
  vs.push_back({"inside only: csr", [&] { spmm_csr(inside, x.data(), f, y.data(), false); }});
  kernel("inside only: panel row mode",
         make_panel_kernel(Subgraph{&inside, whole.blocks}, SimdLevel::kAvx512, 0));
  kernel("inside only: panel row mode avx2",
         make_panel_kernel(Subgraph{&inside, whole.blocks}, SimdLevel::kAvx2, 0));
  kernel("inside only: panel 32 KiB tiles",
         make_panel_kernel(Subgraph{&inside, whole.blocks}, SimdLevel::kAvx512, kPanelTileBytes));
  vs.push_back({"outside only: csr", [&] { spmm_csr(outside, x.data(), f, y.data(), false); }});
  for (int pd : {0, 8})
    kernel("outside only: panel row mode, pf " + std::to_string(pd),
           make_panel_kernel(Subgraph{&outside, whole.blocks}, SimdLevel::kAvx512, 0, pd));
  // The two parts alone on 2 MiB pages.
  for (const auto& [name, part] : {std::pair{"inside only: panel row mode", &inside},
                                   std::pair{"outside only: panel row mode, pf 8", &outside}}) {
    auto k = make_panel_kernel(Subgraph{part, whole.blocks}, SimdLevel::kAvx512, 0, 8);
    const Kernel* raw = k.get();
    keep.push_back(std::move(k));
    vs.push_back({std::string(name) + ", 2 MiB pages", [&, raw] { raw->run(xh, f, yh, false); }});
  }
  std::vector<Variant> chosen;  // the anchor and the variants ONLY selects
  for (std::size_t i = 0; i < vs.size(); ++i)
    if (i == 0 || args->selected(vs[i].name)) chosen.push_back(std::move(vs[i]));
  vs = std::move(chosen);
  // Wall time and process CPU time (both threads summed; OMP_WAIT_POLICY=passive keeps idle
  // threads off the CPU): on a machine shared with other work the CPU time is the steadier.
  const auto cpu_ms = [] {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
  };
  std::vector<std::vector<double>> ms(vs.size()), cpu(vs.size());
  // Each timed call follows an untimed call of the same variant, so that every variant finds
  // its own X and Y wherever they fit in the caches, and each round runs the variants in a new
  // random order, so that no variant always follows the same one. (Timed first in every round,
  // straight after the 2 MiB-page variant, the anchor read up to 1.5x slower than the same
  // loop elsewhere in the round on cora, and still 1.25x with the untimed call alone.)
  std::vector<std::size_t> order(vs.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937 shuffle_rng(7);
  for (int r = -1; r < rounds; ++r) {
    std::shuffle(order.begin(), order.end(), shuffle_rng);
    for (const std::size_t i : order) {
      vs[i].run();
      Stopwatch w;
      const double c0 = cpu_ms();
      vs[i].run();
      if (r < 0) continue;  // round -1 is the warm-up
      ms[i].push_back(w.ms());
      cpu[i].push_back(cpu_ms() - c0);
    }
  }
  // The plan's choice after the rounds: re-checked on this bench's X and Y after 20 calls.
  if (args->selected("matrix plan"))
    std::fprintf(stderr, "matrix plan after the rounds: %s %s\n", mplan.kernels().dump().c_str(),
                 mplan.document()["caller_order_measured"].dump().c_str());
  const double bytes = static_cast<double>(a.nnz()) * 8 + (a.rows + 1) * 8.0 + 2.0 * a.rows * f * 4;
  std::printf(
      "%s: %d nodes, %lld nnz, F=%d, %d threads, best SIMD %s, %zu blocks; compulsory %.1f MB\n",
      graph.c_str(), a.rows, static_cast<long long>(a.nnz()), f, threads, simd_name(best_simd()),
      whole.blocks.size(), bytes / 1e6);
  std::printf("%-46s %10s %12s %8s %10s %12s\n", "variant", "median ms", "csr/variant", "GB/s",
              "cpu ms", "csr/v (cpu)");
  for (std::size_t i = 0; i < vs.size(); ++i) {
    std::vector<double> ratio, cpu_ratio;
    for (int r = 0; r < rounds; ++r) {
      ratio.push_back(ms[0][r] / ms[i][r]);
      cpu_ratio.push_back(cpu[0][r] / cpu[i][r]);
    }
    const double med = summarize(ms[i]).median;
    std::printf("%-46s %10.3f %11.3fx %8.2f %10.3f %11.3fx\n", vs[i].name.c_str(), med,
                summarize(ratio).median, bytes / (med * 1e-3) / 1e9, summarize(cpu[i]).median,
                summarize(cpu_ratio).median);
  }
  return 0;
}
