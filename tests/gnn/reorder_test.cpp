// Reorderings: valid permutations and block boundaries; communities of a shuffled SBM become
// contiguous (most nonzeros land in diagonal blocks) with METIS and label propagation.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "gearbox/core/error.hpp"
#include "gearbox/gnn/density_split.hpp"
#include "gearbox/gnn/generators.hpp"
#include "gearbox/gnn/reorder.hpp"

using namespace gearbox::gnn;

namespace {
void expect_valid(const Ordering& o, index_t n, int max_block) {
  std::vector<index_t> p = o.new_of_old;
  std::sort(p.begin(), p.end());
  std::vector<index_t> id(static_cast<std::size_t>(n));
  std::iota(id.begin(), id.end(), 0);
  EXPECT_EQ(p, id);
  ASSERT_GE(o.block_starts.size(), 2u);
  EXPECT_EQ(o.block_starts.front(), 0);
  EXPECT_EQ(o.block_starts.back(), n);
  for (std::size_t i = 1; i < o.block_starts.size(); ++i) {
    EXPECT_GT(o.block_starts[i], o.block_starts[i - 1]);
    EXPECT_LE(o.block_starts[i] - o.block_starts[i - 1], max_block);
  }
}

double diagonal_share(const Csr& a, const Ordering& o) {
  const Csr p = permute_symmetric(a, o.new_of_old);
  offset_t in = 0;
  for (const auto& b : diagonal_blocks(p, o.block_starts)) in += b.nnz;
  return static_cast<double>(in) / static_cast<double>(p.nnz());
}
}  // namespace

TEST(Reorder, AllMethodsGiveValidOrderings) {
  const Csr a = generate_rmat({.scale = 10, .edge_factor = 6, .seed = 1});
  for (auto m : {ReorderMethod::kNone, ReorderMethod::kDegree, ReorderMethod::kLabelProp,
                 ReorderMethod::kMetis})
    expect_valid(compute_ordering(a, m, 64, 0), a.rows, 64);
}

TEST(Reorder, RecoversShuffledCommunities) {
  const Csr a = generate_sbm({.n = 4000, .block = 100, .din = 12, .dout = 2, .seed = 5});
  const double none = diagonal_share(a, compute_ordering(a, ReorderMethod::kNone, 128, 0));
  const double lp = diagonal_share(a, compute_ordering(a, ReorderMethod::kLabelProp, 128, 0));
  const double metis = diagonal_share(a, compute_ordering(a, ReorderMethod::kMetis, 128, 0));
  EXPECT_LT(none, 0.1);
  EXPECT_GT(lp, 0.6);
  EXPECT_GT(metis, 0.6);
}

TEST(Reorder, PartsAreCutAndMerged) {
  // Parts of sizes 1, 1, 1, 10 (ids interleaved) with max_block 4.
  std::vector<index_t> part{3, 0, 3, 1, 3, 2, 3, 3, 3, 3, 3, 3, 3};
  const Ordering o = ordering_from_parts(part, 4);
  expect_valid(o, 13, 4);
  EXPECT_EQ(o.communities, 4);
}

TEST(Reorder, ParseNames) {
  EXPECT_EQ(parse_reorder("metis"), ReorderMethod::kMetis);
  EXPECT_THROW(parse_reorder("rabbit"), gearbox::Error);
}
