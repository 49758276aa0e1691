// Host-side planning of the CUDA kernels, checked on the CPU against simple references: the
// launch shape covers every output column once, the row pass plus the segments cover every
// nonzero once (an emulation of the device work matches the plain SpMM), the compacted tiles
// list exactly the columns each window touches and reproduce A X, and the block runs cover
// every dense block once.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "gearbox/core/error.hpp"
#include "gearbox/gnn/cuda/block_runs.hpp"
#include "gearbox/gnn/cuda/csr_launch.hpp"
#include "gearbox/gnn/cuda/tile_plan.hpp"
#include "gearbox/gnn/density_split.hpp"
#include "gearbox/gnn/kernels.hpp"
#include "graphs.hpp"

using namespace gearbox::gnn;
using namespace gearbox::gnn::cuda;
using gearbox::gnn::test::awkward_graph;
using gearbox::gnn::test::random_floats;
using gearbox::gnn::test::spmm_double;

namespace {

void expect_close(const std::vector<float>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 1e-4 * (1 + std::abs(want[i]))) << "at " << i;
}

// Runs the row pass and the segment pass on the CPU exactly as the device maps them: group
// -> rows, (slab, lane, chunk, element) -> column. Counts the row pass's writes per element.
void emulate_csr(const CsrLaunch& p, const CsrShape& s, const Csr& a, const std::vector<float>& x,
                 int f, std::vector<float>& y, bool acc, std::vector<int>& writes) {
  for (std::int64_t g = 0; g < p.groups(); ++g)
    for (int rr = 0; rr < p.rows_per_group; ++rr) {
      const std::int64_t row = g * p.rows_per_group + rr;
      if (row >= a.rows) break;
      const offset_t kb = a.rowptr[row], ke = std::min(a.rowptr[row + 1], kb + p.cap);
      for (int slab = 0; slab < s.slabs; ++slab)
        for (int lane = 0; lane < s.lanes; ++lane)
          for (int j = 0; j < s.chunks; ++j) {
            const int cc = slab * s.slab_cols() + lane * s.vec + j * s.vec * s.lanes;
            if (cc >= f) continue;
            for (int v = 0; v < s.vec; ++v) {
              ASSERT_LT(cc + v, f) << "a vector load would cross the row end";
              float sum = 0;
              for (offset_t k = kb; k < ke; ++k)
                sum += a.val[k] * x[static_cast<std::size_t>(a.col[k]) * f + cc + v];
              float& out = y[static_cast<std::size_t>(row) * f + cc + v];
              out = acc ? out + sum : sum;
              ++writes[static_cast<std::size_t>(row) * f + cc + v];
            }
          }
    }
  for (const RowSegment& sg : p.segments)
    for (int c = 0; c < f; ++c)
      for (offset_t k = sg.begin; k < sg.end; ++k)
        y[static_cast<std::size_t>(sg.row) * f + c] +=
            a.val[k] * x[static_cast<std::size_t>(a.col[k]) * f + c];
}

}  // namespace

TEST(CsrShape, EveryColumnOwnedByExactlyOneLaneForAllWidths) {
  for (int f = 1; f <= 1100; ++f)
    for (bool vec4 : {false, true})
      for (int max_lanes : {16, 32}) {
        const CsrShape s = csr_shape(f, vec4, max_lanes);
        SCOPED_TRACE("f=" + std::to_string(f) + " vec4=" + std::to_string(vec4) +
                     " max_lanes=" + std::to_string(max_lanes));
        EXPECT_TRUE(s.lanes == 4 || s.lanes == 8 || s.lanes == 16 || s.lanes == 32);
        EXPECT_LE(s.lanes, max_lanes);
        EXPECT_TRUE(s.chunks == 1 || (s.lanes == max_lanes && (s.chunks == 2 || s.chunks == 4)));
        EXPECT_EQ(s.vec, vec4 && f % 4 == 0 ? 4 : 1);
        std::vector<int> owner(static_cast<std::size_t>(f), 0);
        for (int slab = 0; slab < s.slabs; ++slab)
          for (int lane = 0; lane < s.lanes; ++lane)
            for (int j = 0; j < s.chunks; ++j) {
              const int cc = slab * s.slab_cols() + lane * s.vec + j * s.vec * s.lanes;
              if (cc < f)
                for (int v = 0; v < s.vec; ++v) ++owner[static_cast<std::size_t>(cc + v)];
            }
        for (int c = 0; c < f; ++c)
          ASSERT_EQ(owner[static_cast<std::size_t>(c)], 1) << "column " << c;
        // No slab is wholly idle: the last one starts inside the row.
        EXPECT_LT((s.slabs - 1) * s.slab_cols(), f);
      }
  EXPECT_THROW(csr_shape(0, true), gearbox::Error);
  EXPECT_THROW(csr_shape(8, true, 8), gearbox::Error);
  // At F = 128 with float4 loads: one row per warp by default, two rows per warp with 16 lanes.
  EXPECT_EQ(csr_shape(128, true).lanes, 32);
  EXPECT_EQ(csr_shape(128, true, 16).lanes, 16);
  EXPECT_EQ(csr_shape(128, true, 16).chunks, 2);
}

TEST(CsrLaunch, RowPassPlusSegmentsComputeTheProductOnAwkwardGraphs) {
  std::mt19937 rng(11);
  int checked = 0;
  for (index_t n : {1, 2, 17, 300, 1000}) {
    for (bool huge : {false, true}) {
      const Csr a = awkward_graph(n, n, 0.01, huge, rng);
      for (int sms : {1, 132}) {
        const RowCap rule = sms == 1 ? RowCap::kWholeRows : RowCap::kFairShare;
        const CsrLaunch p = plan_csr_launch(a, sms, rule);
        EXPECT_EQ(p.cap % 32, 0);
        EXPECT_GE(p.cap, 32);
        EXPECT_LE(p.cap, std::max<offset_t>(256, 16 * a.nnz() / std::max(1, a.rows) + 32));
        // Segments: in row order, within their row, after the row pass's cap, each <= cap.
        for (std::size_t i = 0; i < p.segments.size(); ++i) {
          const RowSegment& s = p.segments[i];
          EXPECT_GE(s.begin, a.rowptr[s.row] + p.cap);
          EXPECT_LE(s.end, a.rowptr[s.row + 1]);
          EXPECT_GT(s.end, s.begin);
          EXPECT_LE(s.end - s.begin, p.cap);
          if (i > 0 && p.segments[i - 1].row == s.row) {
            EXPECT_EQ(p.segments[i - 1].end, s.begin);
          }
        }
        std::set<index_t> long_rows;
        for (index_t r = 0; r < a.rows; ++r)
          if (a.degree(r) > p.cap) long_rows.insert(r);
        EXPECT_EQ(std::vector<index_t>(long_rows.begin(), long_rows.end()), p.long_rows);
        if (huge && n == 1000) {
          EXPECT_FALSE(p.segments.empty());
        }
        for (int f : {1, 3, 16, 17, 32, 129}) {
          for (bool acc : {false, true}) {
            const auto x = random_floats(static_cast<std::size_t>(n) * f, rng);
            const auto y0 = random_floats(static_cast<std::size_t>(n) * f, rng);
            std::vector<double> want(y0.begin(), y0.end());
            spmm_double(a, x, f, want, acc);
            std::vector<float> got = y0;
            std::vector<int> writes(got.size(), 0);
            emulate_csr(p, csr_shape(f, true, f % 2 ? 32 : 16), a, x, f, got, acc, writes);
            SCOPED_TRACE("n=" + std::to_string(n) + " f=" + std::to_string(f) +
                         " huge=" + std::to_string(huge) + " acc=" + std::to_string(acc));
            for (int w : writes) ASSERT_EQ(w, 1);
            expect_close(got, want);
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_EQ(checked, 5 * 2 * 2 * 6 * 2);
}

TEST(CsrLaunch, ShortRowsOnLargeGraphsWalkSeveralRowsPerGroup) {
  // 300k rows of degree <= 1: with 132 SMs enough groups remain to walk 2 rows each; with a
  // denser graph, or fewer rows, every group does one row.
  Coo coo;
  coo.rows = coo.cols = 300000;
  for (index_t i = 0; i < coo.rows; i += 2) {
    coo.row.push_back(i);
    coo.col.push_back((i * 7) % coo.cols);
    coo.val.push_back(1.f);
  }
  const Csr sparse = coo_to_csr(coo);
  const CsrLaunch p = plan_csr_launch(sparse, 132);
  EXPECT_GT(p.rows_per_group, 1);
  EXPECT_GE(p.groups() * p.rows_per_group, sparse.rows);
  EXPECT_LT((p.groups() - 1) * p.rows_per_group, sparse.rows);
  std::mt19937 rng(5);
  EXPECT_EQ(plan_csr_launch(awkward_graph(500, 500, 0.05, false, rng), 132).rows_per_group, 1);
}

TEST(CsrLaunch, SmallGraphsCapRowsShortButLargeGraphsKeepWholeRows) {
  // A small graph cannot fill the device, so its longest row would be the critical path:
  // the cap drops to 32 and a 200-nonzero row is cut into segments. A graph with far more
  // nonzeros than group slots keeps rows up to max(256, 16 x mean degree) whole.
  Coo small;
  small.rows = small.cols = 1000;
  for (index_t j = 0; j < 200; ++j) {
    small.row.push_back(3);
    small.col.push_back(j * 5);
    small.val.push_back(1.f);
  }
  const CsrLaunch ps = plan_csr_launch(coo_to_csr(small), 132);
  EXPECT_EQ(ps.cap, 32);
  EXPECT_EQ(ps.long_rows, std::vector<index_t>{3});
  EXPECT_EQ(ps.segments.size(), 6u);  // nonzeros 32..199 in pieces of at most 32
  Coo big;
  big.rows = big.cols = 400000;
  for (index_t i = 0; i < big.rows; ++i)
    for (index_t j = 0; j < 30; ++j) {
      big.row.push_back(i);
      big.col.push_back((i + j * 977) % big.cols);
      big.val.push_back(1.f);
    }
  const CsrLaunch pb = plan_csr_launch(coo_to_csr(big), 132);
  EXPECT_EQ(pb.cap, 384);  // 12 M nonzeros / 33,792 slots = 355, rounded up; under 16 x 30
  EXPECT_EQ(plan_csr_launch(coo_to_csr(small), 132, RowCap::kWholeRows).cap, 256);
  EXPECT_EQ(plan_csr_launch(coo_to_csr(big), 132, RowCap::kWholeRows).cap, 480);
  EXPECT_TRUE(pb.segments.empty());
}

TEST(TilePlan, TilesListExactlyTheColumnsEachWindowTouches) {
  std::mt19937 rng(21);
  for (index_t rows : {1, 15, 16, 17, 100, 333}) {
    for (index_t cols : {1, 9, 200}) {
      for (bool huge : {false, true}) {
        const Csr a = awkward_graph(rows, cols, 0.03, huge, rng);
        const TilePlan p = plan_tiles(a);
        ASSERT_EQ(p.windows(), (rows + kTileRows - 1) / kTileRows);
        ASSERT_EQ(count_tiles(a), p.tiles());
        ASSERT_EQ(p.tile_col.size(), static_cast<std::size_t>(p.tiles()) * kTileCols);
        ASSERT_EQ(p.tile_val.size(), static_cast<std::size_t>(p.tiles()) * kTileRows * kTileCols);
        for (index_t w = 0; w < p.windows(); ++w) {
          std::set<index_t> want;  // reference: the columns of the window's entries
          for (index_t r = w * kTileRows; r < std::min<index_t>(rows, (w + 1) * kTileRows); ++r)
            for (offset_t k = a.rowptr[r]; k < a.rowptr[r + 1]; ++k) want.insert(a.col[k]);
          std::vector<index_t> listed;
          for (offset_t t = p.window_ptr[w]; t < p.window_ptr[w + 1]; ++t)
            for (int k = 0; k < kTileCols; ++k) {
              const index_t c = p.tile_col[static_cast<std::size_t>(t) * kTileCols + k];
              if (c >= 0) {
                listed.push_back(c);
              } else {  // padding only at the end of the window's last tile
                ASSERT_EQ(t, p.window_ptr[w + 1] - 1);
                for (int r = 0; r < kTileRows; ++r)
                  ASSERT_EQ(
                      p.tile_val[(static_cast<std::size_t>(t) * kTileRows + r) * kTileCols + k],
                      0.f);
              }
            }
          ASSERT_EQ(listed, std::vector<index_t>(want.begin(), want.end())) << "window " << w;
          ASSERT_EQ(window_columns(a, w * kTileRows, std::min<index_t>(rows, (w + 1) * kTileRows)),
                    listed);
        }
        // The tiles reproduce A X.
        const int f = 5;
        const auto x = random_floats(static_cast<std::size_t>(cols) * f, rng);
        std::vector<double> want(static_cast<std::size_t>(rows) * f, 0.0);
        spmm_double(a, x, f, want, false);
        std::vector<float> got(want.size(), 0.f);
        for (index_t w = 0; w < p.windows(); ++w)
          for (offset_t t = p.window_ptr[w]; t < p.window_ptr[w + 1]; ++t)
            for (int r = 0; r < kTileRows; ++r)
              for (int k = 0; k < kTileCols; ++k) {
                const index_t c = p.tile_col[static_cast<std::size_t>(t) * kTileCols + k];
                const index_t row = w * kTileRows + r;
                if (c < 0 || row >= rows) continue;
                const float v =
                    p.tile_val[(static_cast<std::size_t>(t) * kTileRows + r) * kTileCols + k];
                for (int j = 0; j < f; ++j)
                  got[static_cast<std::size_t>(row) * f + j] +=
                      v * x[static_cast<std::size_t>(c) * f + j];
              }
        expect_close(got, want);
      }
    }
  }
}

TEST(BlockRuns, RunsCoverEveryBlockOnceWithEqualSizeAndSpacing) {
  std::mt19937 rng(31);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<BlockInfo> blocks;
    index_t at = static_cast<index_t>(rng() % 3);
    const int nb = static_cast<int>(rng() % 12);
    for (int i = 0; i < nb; ++i) {
      const index_t size = static_cast<index_t>(rng() % 3 == 0 ? 0 : 1 + rng() % 3) * 4;
      blocks.push_back({at, at + size, size});
      at += size + static_cast<index_t>(rng() % 2 == 0 ? 0 : rng() % 5);
    }
    const index_t rows = at + static_cast<index_t>(rng() % 4);
    const auto runs = plan_block_runs(blocks);
    std::vector<std::size_t> covered;
    for (const BlockRun& r : runs) {
      ASSERT_GT(r.count, 0);
      if (r.count > 1) {
        ASSERT_GE(r.stride, r.size);
      }
      for (int i = 0; i < r.count; ++i) {
        const BlockInfo& b = blocks[r.first_block + i];
        ASSERT_EQ(b.size(), r.size);
        ASSERT_EQ(b.begin, r.first_begin + i * r.stride);
        covered.push_back(r.first_block + i);
      }
    }
    std::vector<std::size_t> want;
    for (std::size_t i = 0; i < blocks.size(); ++i)
      if (blocks[i].size() > 0) want.push_back(i);
    ASSERT_EQ(covered, want);
    // Uncovered ranges against a per-row mask.
    std::vector<char> mask(static_cast<std::size_t>(rows), 0);
    for (const auto& b : blocks)
      for (index_t r = b.begin; r < b.end; ++r) mask[r] = 1;
    for (const auto& [b, e] : uncovered_ranges(blocks, rows)) {
      ASSERT_LT(b, e);
      for (index_t r = b; r < e; ++r) {
        ASSERT_EQ(mask[r], 0);
        mask[r] = 2;
      }
    }
    for (char m : mask) ASSERT_NE(m, 0) << "a row neither in a block nor in a range";
  }
}

TEST(BlockRuns, EqualContiguousBlocksMakeOneRunAndDisorderIsRefused) {
  std::vector<BlockInfo> blocks;
  for (index_t i = 0; i < 6; ++i) blocks.push_back({i * 512, (i + 1) * 512, 100});
  blocks.push_back({3072, 3072 + 100, 10});  // a smaller last block
  const auto runs = plan_block_runs(blocks);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].count, 6);
  EXPECT_EQ(runs[0].stride, 512);
  EXPECT_EQ(runs[1].size, 100);
  std::swap(blocks[0], blocks[1]);
  EXPECT_THROW(plan_block_runs(blocks), gearbox::Error);
}
