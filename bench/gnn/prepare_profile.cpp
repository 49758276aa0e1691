// Profiles the one-off preparation of a graph, stage by stage: generation (or load),
// label-propagation communities, the ordering built from them, permuting, normalising, the
// CSR checksum. Usage: gnn_prepare_profile GRAPH [THREADS] [BLOCK]
//   e.g. gnn_prepare_profile sbm:n=1000000,block=512,din=25,dout=6,seed=0 2
#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "gearbox/core/stats.hpp"
#include "gearbox/gnn/dataset.hpp"
#include "gearbox/gnn/reorder.hpp"

using namespace gearbox;
using namespace gearbox::gnn;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s GRAPH [THREADS] [BLOCK]\n", argv[0]);
    return 2;
  }
  const std::string graph = argv[1];
  const int threads = argc > 2 ? std::atoi(argv[2]) : omp_get_max_threads();
  const int block = argc > 3 ? std::atoi(argv[3]) : 64;
  omp_set_num_threads(threads);
  Stopwatch sw;
  LoadOptions lo;
  lo.features = false;
  lo.use_cache = false;
  Dataset d = load_dataset(graph, lo);
  const double gen = sw.seconds();
  sw.reset();
  const std::clock_t c0 = std::clock();
  const std::vector<index_t> labels = label_propagation(d.adj, 20, 0);
  const double lp = sw.seconds();
  const double lp_cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
  sw.reset();
  const Ordering o = ordering_from_parts(labels, block);
  const double parts = sw.seconds();
  sw.reset();
  permute_dataset(d, o.new_of_old);
  const double perm = sw.seconds();
  sw.reset();
  const Csr ahat = gcn_normalize(d.adj);
  const double norm = sw.seconds();
  sw.reset();
  const std::uint64_t sum = checksum(ahat);
  const double check = sw.seconds();
  offset_t in_blocks = 0;
  for (std::size_t b = 0; b + 1 < o.block_starts.size(); ++b)
    for (index_t r = o.block_starts[b]; r < o.block_starts[b + 1]; ++r)
      for (offset_t k = d.adj.rowptr[r]; k < d.adj.rowptr[r + 1]; ++k)
        in_blocks += d.adj.col[k] >= o.block_starts[b] && d.adj.col[k] < o.block_starts[b + 1];
  std::printf(
      "graph %s: %d nodes, %lld nnz, %d threads\n"
      "  generate/load   %8.3f s\n  label prop      %8.3f s (%.3f s CPU, %d communities)\n"
      "  ordering        %8.3f s (%zu blocks of <= %d, %.1f%% of nnz inside)\n"
      "  permute         %8.3f s\n  gcn_normalize   %8.3f s\n  checksum        %8.3f s "
      "(%016llx)\n  total           %8.3f s\n",
      graph.c_str(), d.nodes(), static_cast<long long>(d.adj.nnz()), threads, gen, lp, lp_cpu,
      o.communities, parts, o.block_starts.size() - 1, block,
      100.0 * static_cast<double>(in_blocks) /
          static_cast<double>(std::max<offset_t>(1, d.adj.nnz())),
      perm, norm, check, static_cast<unsigned long long>(sum),
      gen + lp + parts + perm + norm + check);
  return 0;
}
