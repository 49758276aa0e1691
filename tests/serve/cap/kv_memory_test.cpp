// KvMemory: pools of different block sizes drawing on one byte budget never hold more than
// it together; freed blocks give their bytes back; a pool destroyed with blocks held returns
// them. And PagedKvCache::step_blocks predicts what begin() takes.
#include "gearbox/serve/kv/kv_memory.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "gearbox/core/error.hpp"
#include "gearbox/serve/kv/block_pool.hpp"
#include "gearbox/serve/kv/paged_kv_cache.hpp"

namespace gearbox::serve::kv {
namespace {

TEST(KvMemory, PoolsShareOneBudgetInTheirOwnBlockSizes) {
  auto mem = std::make_shared<KvMemory>(1000);
  // Each pool alone would hold 1000 bytes; together they must not.
  KvBlockPool a({4, 10, 1000, mem});  // 40-byte blocks
  KvBlockPool b({4, 25, 1000, mem});  // 100-byte blocks
  std::vector<BlockId> held_a, held_b;
  for (int i = 0; i < 5; ++i) held_b.push_back(b.allocate());  // 500 bytes
  EXPECT_EQ(mem->used(), 500u);
  EXPECT_EQ(a.free_blocks(), 12u);  // 500 / 40
  while (a.free_blocks() > 0) held_a.push_back(a.allocate());
  EXPECT_EQ(held_a.size(), 12u);
  EXPECT_EQ(mem->used(), 980u);
  EXPECT_EQ(b.free_blocks(), 0u);
  EXPECT_THROW(b.allocate(), Error);  // 20 bytes left: not a 100-byte block
  EXPECT_THROW(a.allocate(), Error);
  EXPECT_LE(mem->used(), mem->budget());
  EXPECT_EQ(a.stats().blocks_free, 0u);
  EXPECT_EQ(a.stats().bytes_reserved, 480u);  // memory allocated only for held blocks
  // Freed blocks return their bytes (and their memory) to the shared budget.
  b.release(held_b.back());
  held_b.pop_back();
  EXPECT_EQ(mem->used(), 880u);
  EXPECT_EQ(a.free_blocks(), 3u);
  for (BlockId id : held_a) a.release(id);
  EXPECT_EQ(mem->used(), 400u);
  EXPECT_EQ(a.stats().bytes_reserved, 0u);
  {
    KvBlockPool c({4, 25, 1000, mem});
    c.allocate();
    c.allocate();
    EXPECT_EQ(mem->used(), 600u);
  }  // destroyed holding blocks: their bytes come back
  EXPECT_EQ(mem->used(), 400u);
}

TEST(KvMemory, ChargesAreAllOrNothing) {
  KvMemory mem(100);
  EXPECT_TRUE(mem.try_charge(60));
  EXPECT_FALSE(mem.try_charge(41));
  EXPECT_EQ(mem.used(), 60u);
  EXPECT_TRUE(mem.try_charge(40));
  EXPECT_EQ(mem.available(), 0u);
  mem.uncharge(100);
  EXPECT_EQ(mem.available(), 100u);
  EXPECT_EQ(mem.peak(), 100u);  // the high-water mark stays after the bytes come back
  EXPECT_TRUE(mem.try_charge(30));
  EXPECT_FALSE(mem.try_charge(80));  // a refused charge never counts
  EXPECT_EQ(mem.peak(), 100u);
  EXPECT_THROW(KvMemory(0), Error);
}

PagedKvConfig config(EvictionKind ev, OffloadKind off, std::shared_ptr<KvMemory> mem) {
  PagedKvConfig c;
  c.n_layer = 2;
  c.kv_dim = 8;
  c.block_tokens = 4;
  c.budget_bytes = 1 << 20;
  c.memory = std::move(mem);
  c.eviction = ev;
  c.sink = 2;
  c.window = 8;
  c.offload = off;
  c.hot_tokens = 8;
  c.rotate = [](float*, int, std::int64_t) {};
  return c;
}

// Runs one step of n tokens on `seq` (rows of zeros).
void step(PagedKvCache& cache, serve::SeqId seq, int n) {
  std::vector<std::int32_t> pos(static_cast<std::size_t>(n));
  cache.begin(seq, n, pos);
  std::vector<float> rows(static_cast<std::size_t>(n) * 8, 0.5f);
  for (int l = 0; l < 2; ++l) cache.write(l, seq, n, rows.data(), rows.data());
  cache.commit(seq, n);
}

TEST(KvMemory, StepBlocksPredictsWhatAStepTakes) {
  for (auto [ev, off] : {std::pair{EvictionKind::kNone, OffloadKind::kNone},
                         std::pair{EvictionKind::kStreaming, OffloadKind::kNone},
                         std::pair{EvictionKind::kNone, OffloadKind::kHost}}) {
    auto mem = std::make_shared<KvMemory>(1 << 20);
    PagedKvCache cache(config(ev, off, mem));
    const std::size_t block = cache.pool().block_bytes();
    for (int n : {3, 1, 5, 4, 1, 3, 2, 1, 1, 4}) {
      const std::size_t predicted = cache.step_blocks(1, static_cast<std::size_t>(n));
      const std::size_t before = mem->used();
      step(cache, 1, n);
      // What the step took from the shared budget (offload may spill instead: never more).
      const std::size_t taken = mem->used() > before ? (mem->used() - before) / block : 0;
      if (off == OffloadKind::kNone) {
        EXPECT_EQ(taken, predicted) << static_cast<int>(ev) << " n=" << n;
      } else {
        EXPECT_LE(taken, predicted) << "offload n=" << n;
        EXPECT_LE(mem->used(), 3 * block);  // hot_tokens 8 = 2 blocks (+ the step's)
      }
    }
    if (ev == EvictionKind::kStreaming) {
      EXPECT_LE(mem->used(), 3 * block);  // 10 rows
    }
    cache.remove(1);
    EXPECT_EQ(mem->used(), 0u);
  }
}

}  // namespace
}  // namespace gearbox::serve::kv
