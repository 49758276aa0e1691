// Reorderings: valid permutations and block boundaries; communities of a shuffled SBM become
// contiguous (most nonzeros land in diagonal blocks) with METIS and label propagation.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>

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

namespace {
std::uint64_t ref_mix(std::uint64_t s) {
  std::uint64_t z = s + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Plain label propagation: full sweeps in the same order; a node takes the most
// frequent neighbour label, its own when that is among the most frequent, else the one with
// the smallest key hash(hash(u), label); stops when < 0.1% change.
std::vector<index_t> reference_lp(const Csr& adj, int max_iters, std::uint64_t seed) {
  const index_t n = adj.rows;
  std::vector<index_t> label(n), chunks((n + 255) / 256), order;
  std::iota(label.begin(), label.end(), 0);
  std::iota(chunks.begin(), chunks.end(), 0);
  std::uint64_t s = seed + 12345;
  for (index_t i = static_cast<index_t>(chunks.size()) - 1; i > 0; --i) {
    const std::uint64_t r = ref_mix(s);
    s += 0x9e3779b97f4a7c15ull;
    std::swap(chunks[i], chunks[r % (i + 1)]);
  }
  for (index_t c : chunks)  // chunks of 256 ids in random order, ids in order within
    for (index_t u = c * 256; u < std::min(n, c * 256 + 256); ++u) order.push_back(u);
  for (int it = 0; it < max_iters; ++it) {
    std::int64_t changed = 0;
    for (index_t u : order) {
      if (adj.degree(u) == 0) continue;
      std::map<index_t, int> count;
      for (offset_t k = adj.rowptr[u]; k < adj.rowptr[u + 1]; ++k) ++count[label[adj.col[k]]];
      int mx = 0;
      for (const auto& [l, c] : count) mx = std::max(mx, c);
      const index_t cur = label[u];
      index_t best = cur;
      if (count[cur] != mx) {
        const std::uint64_t base = ref_mix(static_cast<std::uint64_t>(u) * 0x9e3779b97f4a7c15ull);
        std::uint64_t best_key = ~0ull;
        for (const auto& [l, c] : count) {
          const std::uint64_t key = ref_mix(base ^ static_cast<std::uint64_t>(l));
          if (c == mx && key < best_key) {
            best = l;
            best_key = key;
          }
        }
      }
      if (best != cur) {
        label[u] = best;
        ++changed;
      }
    }
    if (changed * 1000 < n) break;
  }
  return label;
}
}  // namespace

TEST(LabelPropagation, MatchesPlainFullSweeps) {
  // The fast version re-evaluates only nodes whose neighbourhood changed, sorts small rows,
  // counts big ones and prefetches: it must give exactly the plain sweeps' labels.
  const Csr sbm = generate_sbm({.n = 3000, .block = 100, .din = 12, .dout = 3, .seed = 4});
  const Csr rmat = generate_rmat({.scale = 11, .edge_factor = 8, .seed = 2});  // hubs > 128
  for (const Csr* g : {&sbm, &rmat})
    for (std::uint64_t seed : {0, 7})
      EXPECT_EQ(label_propagation(*g, 20, seed), reference_lp(*g, 20, seed));
}

TEST(Reorder, BlocksFollowCommunitiesOfAnyCap) {
  // Parts of sizes 40, 3, 2, 100 and 5 (ids interleaved): the 40 and the 100 are blocks of
  // their own, the small ones merge; with max_block 64 the 100 is cut into 50 + 50.
  std::vector<index_t> part;
  const int sizes[] = {40, 3, 2, 100, 5};
  for (int p = 0; p < 5; ++p)
    for (int i = 0; i < sizes[p]; ++i) part.push_back(p);
  std::shuffle(part.begin(), part.end(), std::mt19937(3));
  const Ordering o = ordering_from_parts(part, 64);
  expect_valid(o, 150, 64);
  // Parts in first-appearance order; find the block sizes around each part of >= 32 nodes.
  std::vector<index_t> sizes_seen;
  for (std::size_t i = 1; i < o.block_starts.size(); ++i)
    sizes_seen.push_back(o.block_starts[i] - o.block_starts[i - 1]);
  EXPECT_EQ(std::count(sizes_seen.begin(), sizes_seen.end(), 40), 1);
  EXPECT_EQ(std::count(sizes_seen.begin(), sizes_seen.end(), 50), 2);
  EXPECT_EQ(std::accumulate(sizes_seen.begin(), sizes_seen.end(), 0), 150);
}

TEST(Reorder, LabelPropagationRecoversPlantedCommunitiesInsideBlocks) {
  // A shuffled SBM with communities of 200 (above the old fixed 64 cap): with blocks taken
  // from the communities found, nearly every intra-community nonzero lies in a diagonal block.
  const SbmParams sp{.n = 6000, .block = 200, .din = 14, .dout = 3, .seed = 9};
  const Csr a = generate_sbm(sp);
  const std::vector<std::int32_t> truth = sbm_communities(sp);
  for (int cap : {256, 1024}) {
    const Ordering o = compute_ordering(a, ReorderMethod::kLabelProp, cap, 0);
    expect_valid(o, a.rows, cap);
    const Csr p = permute_symmetric(a, o.new_of_old);
    std::vector<std::int32_t> truth_new(truth.size());
    for (std::size_t i = 0; i < truth.size(); ++i) truth_new[o.new_of_old[i]] = truth[i];
    const double share = intra_community_share(p, diagonal_blocks(p, o.block_starts), truth_new);
    EXPECT_GT(share, 0.9) << "cap " << cap;
  }
  // In the given (shuffled) order with fixed blocks, almost none are.
  const Ordering none = compute_ordering(a, ReorderMethod::kNone, 256, 0);
  EXPECT_LT(intra_community_share(a, diagonal_blocks(a, none.block_starts), truth), 0.1);
}

TEST(DensitySplit, IntraCommunityShareCountsByHand) {
  // 4 nodes, communities {0,1} and {2,3}; entries 0-1, 1-0 (intra, in block [0,2)), 2-3, 3-2
  // (intra, blocks [2,3) and [3,4): outside), 1-2 (inter, not counted), 0-0 (diagonal).
  Coo coo;
  coo.rows = coo.cols = 4;
  for (auto [r, c] :
       std::vector<std::pair<index_t, index_t>>{{0, 1}, {1, 0}, {2, 3}, {3, 2}, {1, 2}, {0, 0}}) {
    coo.row.push_back(r);
    coo.col.push_back(c);
    coo.val.push_back(1.f);
  }
  const Csr a = coo_to_csr(coo);
  const std::vector<std::int32_t> comm{0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(intra_community_share(a, diagonal_blocks(a, {0, 2, 3, 4}), comm), 0.5);
  EXPECT_DOUBLE_EQ(intra_community_share(a, diagonal_blocks(a, {0, 2, 4}), comm), 1.0);
  EXPECT_DOUBLE_EQ(intra_community_share(a, diagonal_blocks(a, {0, 2, 4}), {0, 1}), -1.0);
}
