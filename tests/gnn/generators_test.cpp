// Graph construction at scale: the parallel pair-to-CSR builder equals a plain serial one on
// random pairs (duplicates, self loops, isolated nodes), and generated graphs do not depend on
// the thread count; generated SBM graphs are cached, their labels regenerated.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "gearbox/core/threads.hpp"
#include "gearbox/gnn/csr.hpp"
#include "gearbox/gnn/dataset.hpp"
#include "gearbox/gnn/generators.hpp"
#include "gearbox/testing/temp_dir.hpp"

using namespace gearbox::gnn;

namespace {
// Plain: both directions into a COO, sorted and de-duplicated by coo_to_csr, self loops out.
Csr reference_undirected(index_t n, const std::vector<index_t>& src,
                         const std::vector<index_t>& dst) {
  Coo coo;
  coo.rows = coo.cols = n;
  for (std::size_t k = 0; k < src.size(); ++k) {
    if (src[k] == dst[k]) continue;
    coo.row.push_back(src[k]);
    coo.col.push_back(dst[k]);
    coo.row.push_back(dst[k]);
    coo.col.push_back(src[k]);
  }
  return coo_to_csr(coo, Duplicates::kKeepOne);
}

void expect_same(const Csr& a, const Csr& b) {
  EXPECT_EQ(a.rows, b.rows);
  EXPECT_EQ(a.rowptr, b.rowptr);
  EXPECT_EQ(a.col, b.col);
  EXPECT_EQ(a.val, b.val);
}
}  // namespace

TEST(UndirectedFromPairs, EqualsPlainBuilderOnRandomPairs) {
  std::mt19937 rng(9);
  for (index_t n : {1, 7, 300, 5000}) {
    for (int hub : {0, 1}) {
      std::vector<index_t> src, dst;
      const std::size_t m = static_cast<std::size_t>(n) * 3;
      for (std::size_t k = 0; k < m; ++k) {
        // Nodes >= n/2 stay isolated; with `hub` node 0 gets a third of all pairs.
        const index_t half = std::max<index_t>(1, n / 2);
        src.push_back(hub && k % 3 == 0 ? 0 : static_cast<index_t>(rng() % half));
        dst.push_back(static_cast<index_t>(rng() % half));
        if (k % 17 == 0) dst.back() = src.back();  // self loops
        if (k % 5 == 0 && k > 0) {                 // duplicates, both directions
          src.push_back(dst[k - 1]);
          dst.push_back(src[k - 1]);
        }
      }
      const Csr want = reference_undirected(n, src, dst);
      for (int t : {1, 2}) {
        gearbox::ThreadScope threads(t);
        expect_same(undirected_from_pairs(n, src, dst), want);
      }
    }
  }
}

TEST(Generators, SameGraphWhateverTheThreadCount) {
  Csr sbm1, rmat1;
  {
    gearbox::ThreadScope threads(1);
    sbm1 = generate_sbm({.n = 5000, .block = 64, .din = 10, .dout = 2, .seed = 3});
    rmat1 = generate_rmat({.scale = 12, .edge_factor = 8, .seed = 3});
  }
  gearbox::ThreadScope threads(2);
  expect_same(generate_sbm({.n = 5000, .block = 64, .din = 10, .dout = 2, .seed = 3}), sbm1);
  expect_same(generate_rmat({.scale = 12, .edge_factor = 8, .seed = 3}), rmat1);
  // Expected degree din + dout = 12, less the pairs drawn twice (5 draws among 63 community
  // mates per node: about 6% of the inside ones).
  const double degree = static_cast<double>(sbm1.nnz()) / 5000;
  EXPECT_GT(degree, 10.5);
  EXPECT_LE(degree, 12.5);
}

TEST(Generators, SbmGraphIsCachedAndItsLabelsRegenerated) {
  const gearbox::testing::TempDir dir;
  setenv("GEARBOX_CACHE", dir.path().c_str(), 1);
  const std::string spec = "sbm:n=3000,block=100,din=8,dout=2,seed=5";
  const Dataset first = load_dataset(spec);
  const Dataset second = load_dataset(spec);
  EXPECT_FALSE(first.from_cache);
  EXPECT_TRUE(second.from_cache);
  expect_same(second.adj, first.adj);
  std::vector<std::int32_t> community;
  expect_same(generate_sbm(parse_sbm_spec(spec), &community), first.adj);
  EXPECT_EQ(first.labels, community);
  EXPECT_EQ(second.labels, community);
  EXPECT_EQ(second.num_classes, 30);
}
