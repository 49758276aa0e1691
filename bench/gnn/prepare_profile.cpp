// Profiles the one-off preparation of a graph, stage by stage: generation (or load),
// label-propagation communities, the ordering built from them, permuting, normalising, the
// CSR checksum. Usage: gnn_prepare_profile GRAPH [THREADS] [BLOCK]
//   e.g. gnn_prepare_profile sbm:n=1000000,block=512,din=25,dout=6,seed=0 2
#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

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
  // Wall and process CPU seconds of each stage (CPU shows the work when the machine is shared).
  struct Stage {
    const char* name;
    double wall, cpu;
  };
  std::vector<Stage> stages;
  Stopwatch sw;
  std::clock_t c0 = std::clock();
  const auto done = [&](const char* name) {
    stages.push_back({name, sw.seconds(), static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC});
    sw.reset();
    c0 = std::clock();
  };
  LoadOptions lo;
  lo.features = false;
  lo.use_cache = false;
  Dataset d = load_dataset(graph, lo);
  done("generate/load");
  const std::vector<index_t> labels = label_propagation(d.adj, 20, 0);
  done("label prop");
  const Ordering o = ordering_from_parts(labels, block);
  done("ordering");
  permute_dataset(d, o.new_of_old);
  done("permute");
  const Csr ahat = gcn_normalize(d.adj);
  done("gcn_normalize");
  const std::uint64_t sum = checksum(ahat);
  done("checksum");
  offset_t in_blocks = 0;
  for (std::size_t b = 0; b + 1 < o.block_starts.size(); ++b)
    for (index_t r = o.block_starts[b]; r < o.block_starts[b + 1]; ++r)
      for (offset_t k = d.adj.rowptr[r]; k < d.adj.rowptr[r + 1]; ++k)
        in_blocks += d.adj.col[k] >= o.block_starts[b] && d.adj.col[k] < o.block_starts[b + 1];
  std::printf(
      "graph %s: %d nodes, %lld nnz, %d threads; %d communities, %zu blocks of <= %d, "
      "%.1f%% of nnz inside; checksum %016llx\n",
      graph.c_str(), d.nodes(), static_cast<long long>(d.adj.nnz()), threads, o.communities,
      o.block_starts.size() - 1, block,
      100.0 * static_cast<double>(in_blocks) /
          static_cast<double>(std::max<offset_t>(1, d.adj.nnz())),
      static_cast<unsigned long long>(sum));
  double wall = 0, cpu = 0;
  for (const Stage& st : stages) {
    std::printf("  %-14s %8.3f s wall %8.3f s CPU\n", st.name, st.wall, st.cpu);
    wall += st.wall;
    cpu += st.cpu;
  }
  std::printf("  %-14s %8.3f s wall %8.3f s CPU\n", "total", wall, cpu);
  return 0;
}
