// Automatic prefix caching in PagedKvCache: a sequence reusing cached blocks reads exactly the
// rows the writer stored; blocks stay cached after their writer is gone until dropped (least
// recently used first, never one a sequence holds); hash chains name whole prefixes.
#include "gearbox/serve/kv/prefix_cache.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "gearbox/core/error.hpp"
#include "gearbox/serve/kv/paged_kv_cache.hpp"

namespace gearbox::serve::kv {
namespace {

constexpr int kDim = 8;

PagedKvConfig config(std::shared_ptr<KvMemory> mem, EvictionKind ev = EvictionKind::kNone) {
  PagedKvConfig c;
  c.n_layer = 2;
  c.kv_dim = kDim;
  c.block_tokens = 4;
  c.budget_bytes = 1 << 20;
  c.memory = std::move(mem);
  c.prefix_cache = true;
  c.eviction = ev;
  c.rotate = [](float*, int, std::int64_t) {};
  return c;
}

// Appends n rows to `seq`, row r of layer l holding value base + r + 100 l (keys) and its
// negation (values).
void write_rows(PagedKvCache& cache, serve::SeqId seq, int n, float base) {
  std::vector<std::int32_t> pos(static_cast<std::size_t>(n));
  cache.begin(seq, n, pos);
  const auto past = static_cast<float>(cache.n_past(seq));
  for (int l = 0; l < 2; ++l) {
    std::vector<float> k(static_cast<std::size_t>(n) * kDim), v(k.size());
    for (int r = 0; r < n; ++r)
      for (int d = 0; d < kDim; ++d) {
        k[static_cast<std::size_t>(r * kDim + d)] = base + past + static_cast<float>(r + 100 * l);
        v[static_cast<std::size_t>(r * kDim + d)] = -k[static_cast<std::size_t>(r * kDim + d)];
      }
    cache.write(l, seq, n, k.data(), v.data());
  }
  cache.commit(seq, n);
}

std::vector<float> keys(PagedKvCache& cache, serve::SeqId seq, int layer) {
  const KvView view = cache.read(layer, seq);
  std::vector<float> out;
  for (const auto& sp : view.spans)
    for (int r = 0; r < sp.n; ++r) {
      const float* row = sp.k + static_cast<std::size_t>(r) * sp.k_stride;
      out.insert(out.end(), row, row + kDim);
    }
  return out;
}

std::vector<std::uint64_t> chain(std::uint64_t salt, const std::vector<std::int32_t>& tokens) {
  std::vector<std::uint64_t> out;
  for (std::size_t b = 0; (b + 1) * 4 <= tokens.size(); ++b) {
    salt = chain_block_hash(salt, std::span(tokens).subspan(b * 4, 4));
    out.push_back(salt);
  }
  return out;
}

TEST(PrefixCache, HashesNameWholePrefixes) {
  const std::vector<std::int32_t> a = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<std::int32_t> b = a;
  b[1] = 9;  // differs in the first block only
  const auto ha = chain(7, a), hb = chain(7, b), hs = chain(8, a);
  EXPECT_EQ(ha, chain(7, a));
  EXPECT_NE(ha[0], hb[0]);
  EXPECT_NE(ha[1], hb[1]);  // same second block, different prefix
  EXPECT_NE(ha[0], hs[0]);  // another salt (model or policy)
  EXPECT_NE(hash_text("full"), hash_text("quant:int8"));
}

TEST(PrefixCache, ReusedBlocksReadWhatTheWriterStored) {
  auto mem = std::make_shared<KvMemory>(1 << 20);
  PagedKvCache cache(config(mem));
  ASSERT_TRUE(cache.caches_prefixes());
  const std::vector<std::int32_t> prompt = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5};
  const auto hashes = chain(42, prompt);  // 2 full blocks
  write_rows(cache, 1, 11, 0.5f);
  cache.cache_prefix(1, 0, hashes);
  const std::size_t block = cache.pool().block_bytes();
  EXPECT_EQ(mem->used(), 3 * block);
  const auto writer = keys(cache, 1, 1);
  cache.remove(1);
  // Its two full blocks stay cached; the partial third is freed.
  EXPECT_EQ(mem->used(), 2 * block);
  EXPECT_EQ(cache.cached_blocks(), 2u);
  EXPECT_EQ(cache.reuse_prefix(2, hashes), 8u);
  EXPECT_EQ(cache.n_past(2), 8);
  EXPECT_EQ(cache.cached_blocks(), 0u);  // held by sequence 2 now
  EXPECT_EQ(mem->used(), 2 * block);     // shared, not copied
  write_rows(cache, 2, 3, 0.5f);         // the rest of the prompt
  EXPECT_EQ(keys(cache, 2, 1), writer);
  EXPECT_EQ(cache.row_positions(2), (std::vector<std::int32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  // A prompt that differs in its second block reuses only the first.
  auto other = prompt;
  other[5] = 0;
  EXPECT_EQ(cache.reuse_prefix(3, chain(42, other)), 4u);
  EXPECT_THROW(cache.reuse_prefix(3, hashes), Error);  // exists
  // Nothing is dropped while a sequence holds it.
  EXPECT_EQ(cache.drop_cached(10), 0u);
  cache.remove(2);
  cache.remove(3);
  EXPECT_EQ(cache.cached_blocks(), 2u);
  EXPECT_EQ(cache.drop_cached(1), 1u);           // least recently used first
  EXPECT_EQ(cache.reuse_prefix(4, hashes), 4u);  // the first block (used last) stayed
  cache.remove(4);
  EXPECT_EQ(cache.drop_cached(10), 1u);
  EXPECT_EQ(mem->used(), 0u);
}

TEST(PrefixCache, OnlyWherePrefixRowsAreFinal) {
  auto mem = std::make_shared<KvMemory>(1 << 20);
  auto c = config(mem, EvictionKind::kStreaming);
  c.sink = 1;
  c.window = 4;
  PagedKvCache streaming(c);
  EXPECT_FALSE(streaming.caches_prefixes());
  const std::vector<std::int32_t> prompt = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  write_rows(streaming, 1, 5, 0.f);
  streaming.cache_prefix(1, 0, chain(1, prompt));
  streaming.remove(1);
  EXPECT_EQ(streaming.reuse_prefix(2, chain(1, prompt)), 0u);
  EXPECT_EQ(mem->used(), 0u);
}

}  // namespace
}  // namespace gearbox::serve::kv
