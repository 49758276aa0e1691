// PagedKvCache driven as the model drives it (begin, write, read, observe, commit), with
// rows that carry their own identity: K[0] = the RoPE position the key was written at, K[1]
// and V[0] = the token index. The test rotation adds the position delta to K[0] of each head,
// so after any shifts K[0] must equal the position the cache reports.
#include "gearbox/serve/kv/paged_kv_cache.hpp"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "gearbox/core/error.hpp"

namespace gearbox::serve::kv {
namespace {

constexpr int kHeads = 2, kHeadDim = 4, kDim = kHeads * kHeadDim, kLayers = 2;

PagedKvConfig base_config() {
  PagedKvConfig c;
  c.n_layer = kLayers;
  c.kv_dim = kDim;
  c.n_head_kv = kHeads;
  c.block_tokens = 2;
  c.budget_bytes = 1 << 20;
  c.rotate = [](float* k, int n_heads, std::int64_t delta) {
    for (int h = 0; h < n_heads; ++h) k[h * kHeadDim] += static_cast<float>(delta);
  };
  return c;
}

struct Rows {
  std::vector<std::vector<float>> k, v;
};

Rows gather(KvCache& cache, int layer, SeqId seq) {
  Rows r;
  for (const auto& s : cache.read(layer, seq).spans)
    for (int i = 0; i < s.n; ++i) {
      r.k.emplace_back(s.k + i * s.k_stride, s.k + i * s.k_stride + kDim);
      r.v.emplace_back(s.v + i * s.v_stride, s.v + i * s.v_stride + kDim);
    }
  return r;
}

// One step of n tokens: rows identify token and position; layer l observes attention
// layer_attention[l][token] (0 past its end); returns the positions given.
std::vector<std::int32_t> step_layers(KvCache& cache, SeqId seq, int n,
                                      const std::vector<std::vector<float>>& layer_attention) {
  std::vector<std::int32_t> pos(static_cast<std::size_t>(n));
  const std::int64_t first = cache.n_past(seq);
  cache.begin(seq, n, pos);
  for (int l = 0; l < kLayers; ++l) {
    std::vector<float> k(static_cast<std::size_t>(n * kDim), 0.5f), v(k.size(), 0.25f);
    for (int i = 0; i < n; ++i)
      for (int h = 0; h < kHeads; ++h) {
        k[i * kDim + h * kHeadDim] = static_cast<float>(pos[i]);
        k[i * kDim + h * kHeadDim + 1] = static_cast<float>(first + i);
        v[i * kDim + h * kHeadDim] = static_cast<float>(first + i);
      }
    cache.write(l, seq, n, k.data(), v.data());
    const Rows rows = gather(cache, l, seq);
    if (cache.wants_attention()) {
      std::vector<float> w(rows.k.size(), 0.0f);
      for (std::size_t r = 0; r < rows.k.size(); ++r) {
        const auto tok = static_cast<std::size_t>(rows.v[r][0]);
        const auto& a = layer_attention[static_cast<std::size_t>(l)];
        if (tok < a.size()) w[r] = a[tok];
      }
      cache.observe_attention(l, seq, w);
    }
  }
  cache.commit(seq, n);
  return pos;
}

// step_layers() with the same attention at every layer.
std::vector<std::int32_t> step(KvCache& cache, SeqId seq, int n,
                               const std::vector<float>& attention_per_token = {}) {
  return step_layers(cache, seq, n, std::vector<std::vector<float>>(kLayers, attention_per_token));
}

void expect_rows_consistent(PagedKvCache& cache, SeqId seq) {
  for (int l = 0; l < kLayers; ++l) {
    const auto tokens = cache.row_tokens(seq, l);
    const auto positions = cache.row_positions(seq, l);
    const Rows rows = gather(cache, l, seq);
    ASSERT_EQ(rows.k.size(), tokens.size());
    for (std::size_t r = 0; r < tokens.size(); ++r) {
      EXPECT_EQ(rows.v[r][0], static_cast<float>(tokens[r])) << "row " << r;
      EXPECT_EQ(rows.k[r][1], static_cast<float>(tokens[r])) << "row " << r;
      EXPECT_NEAR(rows.k[r][0], static_cast<float>(positions[r]), 0.05) << "row " << r;
      EXPECT_NEAR(rows.k[r][kHeadDim], static_cast<float>(positions[r]), 0.05) << "row " << r;
    }
  }
}

TEST(PagedKvCache, FullKeepsEverythingAndRefusesPastTheLimit) {
  auto c = base_config();
  c.ctx_limit = 8;
  PagedKvCache cache(c);
  EXPECT_EQ(step(cache, 1, 5), (std::vector<std::int32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(step(cache, 1, 3), (std::vector<std::int32_t>{5, 6, 7}));
  std::vector<std::int32_t> pos(1);
  try {
    cache.begin(1, 1, pos);
    FAIL() << "no error past the context limit";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("<= 8"), std::string::npos);
  }
  EXPECT_EQ(cache.n_past(1), 8);
  EXPECT_EQ(cache.n_rows(1), 8);
  expect_rows_consistent(cache, 1);
  // 8 tokens in 2-token blocks: 4 blocks of 2 x 2 layers x 2 (K,V) x 8 floats.
  EXPECT_EQ(cache.bytes_per_token(), 2u * 2 * 8 * 4);
  EXPECT_EQ(cache.bytes_in_use(), 8 * cache.bytes_per_token());
  cache.remove(1);
  EXPECT_EQ(cache.bytes_in_use(), 0u);
  EXPECT_FALSE(cache.contains(1));
}

TEST(PagedKvCache, StreamingKeepsSinksAndWindowWithCachePositions) {
  auto c = base_config();
  c.eviction = EvictionKind::kStreaming;
  c.sink = 2;
  c.window = 4;
  PagedKvCache cache(c);
  for (int t = 0; t < 10; ++t) step(cache, 3, 1);
  EXPECT_EQ(cache.row_tokens(3), (std::vector<std::int64_t>{0, 1, 6, 7, 8, 9}));
  EXPECT_EQ(cache.row_positions(3), (std::vector<std::int32_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(cache.n_past(3), 10);
  expect_rows_consistent(cache, 3);
  // The next token is placed right after the window, at position 5 (after one eviction).
  EXPECT_EQ(step(cache, 3, 1), (std::vector<std::int32_t>{5}));
  EXPECT_EQ(cache.row_tokens(3), (std::vector<std::int64_t>{0, 1, 7, 8, 9, 10}));
  expect_rows_consistent(cache, 3);
}

TEST(PagedKvCache, StreamingWithOriginalPositionsDoesNotShift) {
  auto c = base_config();
  c.eviction = EvictionKind::kStreaming;
  c.sink = 1;
  c.window = 2;
  c.cache_positions = false;
  PagedKvCache cache(c);
  for (int t = 0; t < 6; ++t) step(cache, 0, 1);
  EXPECT_EQ(cache.row_tokens(0), (std::vector<std::int64_t>{0, 4, 5}));
  EXPECT_EQ(cache.row_positions(0), (std::vector<std::int32_t>{0, 4, 5}));
  expect_rows_consistent(cache, 0);
}

TEST(PagedKvCache, StreamingMemoryIsConstantOverTenTimesItsWindow) {
  for (auto fmt : {KvRowFormat::kF32, KvRowFormat::kInt8}) {
    auto c = base_config();
    c.block_tokens = 16;
    c.eviction = EvictionKind::kStreaming;
    c.sink = 4;
    c.window = 64;
    c.format = fmt;
    PagedKvCache cache(c);
    step(cache, 0, 68);
    const std::size_t full = cache.bytes_in_use();
    EXPECT_EQ(full, 5 * 16 * cache.bytes_per_token());  // ceil(68/16) blocks
    for (int t = 0; t < 10 * 64; t += 8) {
      step(cache, 0, 8);
      ASSERT_EQ(cache.bytes_in_use(), full) << "after " << cache.n_past(0) << " tokens";
      ASSERT_EQ(cache.n_rows(0), 68);
    }
    const auto tokens = cache.row_tokens(0);
    EXPECT_EQ(tokens.front(), 0);
    EXPECT_EQ(tokens[4], cache.n_past(0) - 64);
    EXPECT_EQ(tokens.back(), cache.n_past(0) - 1);
    // Identity markers up to ~700 do not survive int8 exactly; quant accuracy is tested apart.
    if (fmt == KvRowFormat::kF32) expect_rows_consistent(cache, 0);
  }
}

TEST(PagedKvCache, StreamingRefusesAStepLargerThanItsWindow) {
  auto c = base_config();
  c.eviction = EvictionKind::kStreaming;
  c.sink = 2;
  c.window = 4;
  PagedKvCache cache(c);
  step(cache, 0, 6);
  std::vector<std::int32_t> pos(5);
  EXPECT_THROW(cache.begin(0, 5, pos), Error);
  EXPECT_EQ(cache.row_tokens(0).size(), 6u);  // unchanged
  step(cache, 0, 4);
  EXPECT_EQ(cache.row_tokens(0), (std::vector<std::int64_t>{0, 1, 6, 7, 8, 9}));
}

TEST(PagedKvCache, H2oKeepsHeavyHittersAndRecentTokens) {
  auto c = base_config();
  c.eviction = EvictionKind::kH2o;
  c.budget = 4;
  c.recent = 2;
  PagedKvCache cache(c);
  // Token 1 draws most attention, token 3 some; the others none.
  std::vector<float> attn(20, 0.0f);
  attn[1] = 1.0f;
  attn[3] = 0.5f;
  for (int t = 0; t < 8; ++t) step(cache, 0, 1, attn);
  EXPECT_EQ(cache.row_tokens(0), (std::vector<std::int64_t>{1, 3, 6, 7}));
  EXPECT_EQ(cache.row_positions(0), (std::vector<std::int32_t>{0, 1, 2, 3}));
  expect_rows_consistent(cache, 0);
  const auto scores = cache.row_scores(0);
  // Token 1 was observed in every step since it arrived (7 steps), at this layer only.
  EXPECT_DOUBLE_EQ(scores[0], 7.0);
  EXPECT_EQ(cache.row_tokens(0, 1), cache.row_tokens(0, 0));  // same attention, same choice
}

TEST(PagedKvCache, H2oKeepsHeavyHittersPerLayer) {
  for (const auto fmt : {KvRowFormat::kF32, KvRowFormat::kInt8}) {
    auto c = base_config();
    c.eviction = EvictionKind::kH2o;
    c.format = fmt;
    c.budget = 4;
    c.recent = 2;
    PagedKvCache cache(c);
    // Layer 0 attends to tokens 1 and 2, layer 1 to tokens 0 and 3: summed over layers all
    // four would be heavy hitters and both layers would keep the same rows; per layer each
    // keeps its own pair.
    std::vector<std::vector<float>> attn(kLayers, std::vector<float>(20, 0.0f));
    attn[0][1] = attn[0][2] = 1.0f;
    attn[1][0] = attn[1][3] = 1.0f;
    for (int t = 0; t < 9; ++t) step_layers(cache, 0, 1, attn);
    EXPECT_EQ(cache.row_tokens(0, 0), (std::vector<std::int64_t>{1, 2, 7, 8}));
    EXPECT_EQ(cache.row_tokens(0, 1), (std::vector<std::int64_t>{0, 3, 7, 8}));
    // Same slots in both layers: the next token's position is one for all layers.
    EXPECT_EQ(cache.row_positions(0, 0), (std::vector<std::int32_t>{0, 1, 2, 3}));
    EXPECT_EQ(cache.row_positions(0, 1), (std::vector<std::int32_t>{0, 1, 2, 3}));
    // Each layer's K/V rows are the tokens its table names, keys rotated to their new slot
    // (exact values need f32 rows).
    if (fmt == KvRowFormat::kF32) expect_rows_consistent(cache, 0);
    EXPECT_EQ(cache.n_rows(0), 4);
    // A multi-token step that evicts (prefill chunk) keeps the layers apart too.
    step_layers(cache, 0, 2, attn);
    EXPECT_EQ(cache.row_tokens(0, 0), (std::vector<std::int64_t>{1, 2, 9, 10}));
    EXPECT_EQ(cache.row_tokens(0, 1), (std::vector<std::int64_t>{0, 3, 9, 10}));
    if (fmt == KvRowFormat::kF32) expect_rows_consistent(cache, 0);
    // The values each layer reads back name its own tokens (int8 keeps small integers close).
    for (int l = 0; l < kLayers; ++l) {
      const Rows rows = gather(cache, l, 0);
      const auto tokens = cache.row_tokens(0, l);
      for (std::size_t r = 0; r < rows.v.size(); ++r)
        EXPECT_NEAR(rows.v[r][0], static_cast<float>(tokens[r]), 0.1) << "layer " << l;
    }
  }
}

TEST(PagedKvCache, AbortDropsThePendingRows) {
  PagedKvCache cache(base_config());
  step(cache, 0, 3);
  std::vector<std::int32_t> pos(2);
  cache.begin(0, 2, pos);
  cache.abort(0, 2);
  EXPECT_EQ(cache.n_rows(0), 3);
  EXPECT_EQ(cache.n_past(0), 3);
  EXPECT_EQ(cache.bytes_in_use(), 4 * cache.bytes_per_token());  // 2 blocks of 2
  std::vector<std::int32_t> p1(1);
  cache.begin(9, 1, p1);
  cache.abort(9, 1);
  EXPECT_FALSE(cache.contains(9));
}

TEST(PagedKvCache, BudgetExhaustionIsAnInputErrorAndChangesNothing) {
  auto c = base_config();
  c.budget_bytes = 3 * 2 * 2 * 2 * 8 * 4;  // 3 blocks
  PagedKvCache cache(c);
  step(cache, 0, 5);
  std::vector<std::int32_t> pos(2);
  EXPECT_THROW(cache.begin(0, 2, pos), Error);
  EXPECT_EQ(cache.n_rows(0), 5);
  step(cache, 0, 1);
}

TEST(PagedKvCache, OffloadSpillsColdBlocksAndReadsThemBack) {
  for (auto where : {OffloadKind::kHost, OffloadKind::kFile}) {
    auto c = base_config();
    c.offload = where;
    c.hot_tokens = 4;  // 2 resident blocks per sequence
    PagedKvCache cache(c);
    for (int t = 0; t < 5; ++t) step(cache, 0, 3);
    EXPECT_EQ(cache.n_rows(0), 15);
    EXPECT_EQ(cache.bytes_in_use(), 4 * cache.bytes_per_token());
    EXPECT_EQ(cache.cold_bytes(), 6 * 2 * cache.bytes_per_token());  // 8 blocks, 2 hot
    expect_rows_consistent(cache, 0);
    EXPECT_GT(cache.blocks_reloaded(), 0);
    cache.remove(0);
    EXPECT_EQ(cache.cold_bytes(), 0u);
    EXPECT_EQ(cache.bytes_in_use(), 0u);
  }
}

TEST(PagedKvCache, OffloadSpillsWhenThePoolIsFull) {
  auto c = base_config();
  c.offload = OffloadKind::kHost;
  c.budget_bytes = 3 * 2 * 2 * 2 * 8 * 4;  // 3 blocks in the pool
  PagedKvCache cache(c);
  for (int t = 0; t < 10; ++t) step(cache, 0, 1);
  EXPECT_EQ(cache.bytes_in_use(), 3 * 2 * cache.bytes_per_token());
  expect_rows_consistent(cache, 0);
}

// fork() copies a sequence: after it, steps on parent and child are independent, rows and
// positions stay consistent in both, and bytes count both copies.
TEST(PagedKvCache, ForkMakesAnIndependentCopy) {
  PagedKvCache cache(base_config());
  step(cache, 0, 5);
  cache.fork(0, 1);
  EXPECT_EQ(cache.n_past(1), 5);
  step(cache, 1, 3);
  step(cache, 0, 1);
  EXPECT_EQ(cache.row_tokens(0), (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(cache.row_tokens(1), (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  expect_rows_consistent(cache, 0);
  expect_rows_consistent(cache, 1);
  EXPECT_EQ(cache.bytes_in_use(), (3 + 4) * 2 * cache.bytes_per_token());  // 2-token blocks
  cache.remove(0);
  expect_rows_consistent(cache, 1);
  EXPECT_EQ(cache.bytes_in_use(), 4 * 2 * cache.bytes_per_token());
}

// The policy's state travels with the copy: a forked H2O sequence fed the same attention as
// its parent keeps the same rows, positions and scores.
TEST(PagedKvCache, ForkCarriesEvictionState) {
  auto c = base_config();
  c.eviction = EvictionKind::kH2o;
  c.budget = 6;
  c.recent = 2;
  PagedKvCache cache(c);
  std::vector<float> attention(40, 0.01f);
  attention[1] = attention[4] = attention[9] = 1.0f;
  for (int i = 0; i < 5; ++i) step(cache, 0, 2, attention);
  cache.fork(0, 1);
  for (int i = 0; i < 4; ++i) {
    step(cache, 0, 2, attention);
    step(cache, 1, 2, attention);
  }
  for (int l = 0; l < kLayers; ++l) {
    EXPECT_EQ(cache.row_tokens(0, l), cache.row_tokens(1, l));
    EXPECT_EQ(cache.row_positions(0, l), cache.row_positions(1, l));
    EXPECT_EQ(cache.row_scores(0, l), cache.row_scores(1, l));
  }
  EXPECT_EQ(cache.n_rows(1), 6);
  expect_rows_consistent(cache, 1);
}

TEST(PagedKvCache, ForkCopiesSpilledBlocks) {
  for (auto where : {OffloadKind::kHost, OffloadKind::kFile}) {
    auto c = base_config();
    c.offload = where;
    c.hot_tokens = 4;
    PagedKvCache cache(c);
    for (int t = 0; t < 3; ++t) step(cache, 0, 3);
    const std::size_t cold_before = cache.cold_bytes();
    cache.fork(0, 1);
    EXPECT_GT(cache.cold_bytes(), cold_before);  // the child's copies of the cold blocks
    cache.remove(0);
    step(cache, 1, 2);
    EXPECT_EQ(cache.row_tokens(1).size(), 11u);
    expect_rows_consistent(cache, 1);
  }
}

// A fork whose parent holds the whole pool: the child's new rows need resident blocks, so
// the parent's oldest ones are spilled (before this, the child found none of its own to spill
// and the step failed).
TEST(PagedKvCache, OffloadSpillsAnotherSequenceWhenItsOwnAreCold) {
  auto c = base_config();
  c.offload = OffloadKind::kHost;
  c.budget_bytes = 3 * 2 * 2 * 2 * 8 * 4;  // 3 blocks in the pool
  PagedKvCache cache(c);
  for (int t = 0; t < 4; ++t) step(cache, 0, 2);  // 4 blocks: 3 resident, 1 spilled
  cache.fork(0, 1);                               // the pool is full: the copy is all cold
  step(cache, 1, 2);
  step(cache, 0, 1);
  expect_rows_consistent(cache, 0);
  expect_rows_consistent(cache, 1);
  EXPECT_EQ(cache.n_rows(1), 10);
  EXPECT_EQ(cache.bytes_in_use(), 3 * 2 * cache.bytes_per_token());
}

// A step that needs several blocks while another sequence holds the rest of the pool: the
// blocks it just took for its own rows must stay resident (spilling one of them wrote through
// a spilled block: "KV block id out of range").
TEST(PagedKvCache, OffloadNeverSpillsTheStepsOwnBlocks) {
  auto c = base_config();
  c.offload = OffloadKind::kHost;
  c.budget_bytes = 4 * 2 * 2 * 2 * 8 * 4;  // 4 blocks in the pool
  PagedKvCache cache(c);
  step(cache, 0, 5);  // 3 blocks
  cache.fork(0, 1);   // 1 resident copy, 2 cold
  step(cache, 1, 5);  // 3 more blocks for seq 1: spills its copy and the parent's
  step(cache, 0, 3);
  expect_rows_consistent(cache, 0);
  expect_rows_consistent(cache, 1);
  EXPECT_EQ(cache.n_rows(1), 10);
  EXPECT_EQ(cache.n_rows(0), 8);
}

TEST(PagedKvCache, ForkErrorsChangeNothing) {
  auto c = base_config();
  c.budget_bytes = 5 * 2 * 2 * 2 * 8 * 4;  // 5 blocks
  PagedKvCache cache(c);
  step(cache, 0, 5);  // 3 blocks
  const std::size_t used = cache.bytes_in_use();
  try {
    cache.fork(0, 1);
    FAIL() << "a fork past the budget succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
  }
  EXPECT_FALSE(cache.contains(1));
  EXPECT_EQ(cache.bytes_in_use(), used);
  EXPECT_THROW(cache.fork(7, 1), Error);  // unknown parent
  step(cache, 2, 1);
  EXPECT_THROW(cache.fork(0, 2), Error);  // existing child
  EXPECT_EQ(cache.n_rows(2), 1);
  expect_rows_consistent(cache, 0);
}

TEST(PagedKvCache, RejectsInconsistentConfigs) {
  auto c = base_config();
  c.eviction = EvictionKind::kStreaming;
  c.offload = OffloadKind::kHost;
  EXPECT_THROW(PagedKvCache{c}, Error);
  c = base_config();
  c.eviction = EvictionKind::kH2o;
  c.recent = c.budget;
  EXPECT_THROW(PagedKvCache{c}, Error);
  c = base_config();
  c.eviction = EvictionKind::kStreaming;
  c.rotate = nullptr;
  EXPECT_THROW(PagedKvCache{c}, Error);
}

}  // namespace
}  // namespace gearbox::serve::kv
