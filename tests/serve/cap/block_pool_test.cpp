// KvBlockPool on hand-checked cases: capacity from the budget, block tables, accounting,
// fork with shared prefix, copy-on-write of the partial last block, budget exhaustion.
#include "gearbox/serve/kv/block_pool.hpp"

#include <cstring>

#include <gtest/gtest.h>

#include "gearbox/core/error.hpp"

namespace gearbox::serve::kv {
namespace {

// 4 tokens per block, 10 bytes per token -> 40-byte blocks; 200-byte budget -> 5 blocks.
KvBlockPool small_pool() {
  return KvBlockPool({4, 10, 200});
}

TEST(KvBlockPool, CapacityFollowsBudget) {
  auto pool = small_pool();
  EXPECT_EQ(pool.block_bytes(), 40u);
  EXPECT_EQ(pool.capacity_blocks(), 5u);
  KvBlockPool odd({4, 10, 239});  // 5.975 blocks -> 5
  EXPECT_EQ(odd.capacity_blocks(), 5u);
  auto st = pool.stats();
  EXPECT_EQ(st.blocks_free, 5u);
  EXPECT_EQ(st.blocks_in_use, 0u);
  EXPECT_EQ(st.bytes_in_use, 0u);
}

TEST(KvBlockPool, RejectsBadConfig) {
  EXPECT_THROW(KvBlockPool({0, 10, 100}), Error);
  EXPECT_THROW(KvBlockPool({4, 0, 100}), Error);
  EXPECT_THROW(KvBlockPool({4, 10, 39}), Error);
}

TEST(KvBlockPool, AppendAllocatesBlocksAsTokensArrive) {
  auto pool = small_pool();
  pool.add_sequence(1);
  pool.append(1, 1);
  EXPECT_EQ(pool.block_table(1).size(), 1u);
  pool.append(1, 3);  // fills block 0 exactly
  EXPECT_EQ(pool.block_table(1).size(), 1u);
  pool.append(1, 1);  // token 4 opens a second block
  ASSERT_EQ(pool.block_table(1).size(), 2u);
  EXPECT_EQ(pool.seq_tokens(1), 5u);
  EXPECT_EQ(pool.slot(1, 4).block, pool.block_table(1)[1]);
  EXPECT_EQ(pool.slot(1, 4).offset, 0u);
  EXPECT_EQ(pool.slot(1, 3).offset, 3u);
  auto st = pool.stats();
  EXPECT_EQ(st.blocks_in_use, 2u);
  EXPECT_EQ(st.blocks_free, 3u);
  EXPECT_EQ(st.bytes_in_use, 80u);
  EXPECT_EQ(st.tokens, 5u);
  EXPECT_THROW(pool.slot(1, 5), Error);
}

TEST(KvBlockPool, ForkSharesPrefixAndCopiesPartialBlockOnWrite) {
  auto pool = small_pool();
  pool.add_sequence(1);
  pool.append(1, 6);  // blocks A (full), B (2 of 4)
  const BlockId a = pool.block_table(1)[0];
  const BlockId b = pool.block_table(1)[1];
  std::memset(pool.block_data(b), 0x5A, pool.block_bytes());
  pool.fork(1, 2);
  EXPECT_EQ(pool.ref_count(a), 2);
  EXPECT_EQ(pool.ref_count(b), 2);
  EXPECT_EQ(pool.stats().blocks_in_use, 2u);  // shared blocks counted once
  EXPECT_EQ(pool.stats().bytes_in_use, 80u);
  EXPECT_EQ(pool.blocks_needed(2, 1), 1u);  // copy of B
  pool.append(2, 1);
  const BlockId b2 = pool.block_table(2)[1];
  EXPECT_NE(b2, b);
  EXPECT_EQ(pool.block_table(2)[0], a);  // full prefix block still shared
  EXPECT_EQ(pool.ref_count(a), 2);
  EXPECT_EQ(pool.ref_count(b), 1);
  EXPECT_EQ(pool.ref_count(b2), 1);
  EXPECT_EQ(std::memcmp(pool.block_data(b2), pool.block_data(b), pool.block_bytes()), 0);
  EXPECT_EQ(pool.stats().blocks_in_use, 3u);
  // The parent now owns B alone: appending needs no copy.
  EXPECT_EQ(pool.blocks_needed(1, 2), 0u);
}

TEST(KvBlockPool, ForkOnBlockBoundaryNeedsNoCopy) {
  auto pool = small_pool();
  pool.add_sequence(1);
  pool.append(1, 4);
  pool.fork(1, 2);
  EXPECT_EQ(pool.blocks_needed(2, 1), 1u);  // a fresh block, no copy
  pool.append(2, 1);
  EXPECT_EQ(pool.block_table(2)[0], pool.block_table(1)[0]);
  EXPECT_EQ(pool.stats().blocks_in_use, 2u);
}

TEST(KvBlockPool, FreeReturnsOnlyUnsharedBlocks) {
  auto pool = small_pool();
  pool.add_sequence(1);
  pool.append(1, 8);
  pool.fork(1, 2);
  pool.append(2, 4);
  EXPECT_EQ(pool.stats().blocks_in_use, 3u);
  pool.free_sequence(1);
  EXPECT_EQ(pool.stats().blocks_in_use, 3u);  // all still referenced by 2
  pool.free_sequence(2);
  auto st = pool.stats();
  EXPECT_EQ(st.blocks_in_use, 0u);
  EXPECT_EQ(st.blocks_free, 5u);
  EXPECT_EQ(st.bytes_in_use, 0u);
  EXPECT_EQ(st.sequences, 0u);
}

TEST(KvBlockPool, ExhaustedBudgetThrowsAndChangesNothing) {
  auto pool = small_pool();
  pool.add_sequence(1);
  pool.append(1, 18);  // 5 blocks
  EXPECT_FALSE(pool.can_append(1, 3));
  EXPECT_TRUE(pool.can_append(1, 2));
  EXPECT_THROW(pool.append(1, 3), Error);
  EXPECT_EQ(pool.seq_tokens(1), 18u);
  EXPECT_FALSE(pool.can_append(1, static_cast<std::size_t>(-1)));
  pool.append(1, 2);
  EXPECT_EQ(pool.stats().blocks_free, 0u);
}

TEST(KvBlockPool, TruncateFreesEmptiedBlocks) {
  auto pool = small_pool();
  pool.add_sequence(1);
  pool.append(1, 9);  // 3 blocks
  pool.truncate(1, 5);
  EXPECT_EQ(pool.seq_tokens(1), 4u);
  EXPECT_EQ(pool.block_table(1).size(), 1u);
  EXPECT_EQ(pool.stats().blocks_in_use, 1u);
  EXPECT_THROW(pool.truncate(1, 5), Error);
}

TEST(KvBlockPool, ReusedBlocksComeBackZeroed) {
  KvBlockPool pool({2, 4, 8});  // one block
  pool.add_sequence(1);
  pool.append(1, 1);
  std::memset(pool.block_data(pool.block_table(1)[0]), 0xFF, pool.block_bytes());
  pool.free_sequence(1);
  pool.add_sequence(2);
  pool.append(2, 1);
  const std::byte* d = pool.block_data(pool.block_table(2)[0]);
  for (std::size_t i = 0; i < pool.block_bytes(); ++i) EXPECT_EQ(d[i], std::byte{0});
  EXPECT_EQ(pool.stats().bytes_reserved, 8u);
}

TEST(KvBlockPool, UnknownSequencesAndDuplicatesAreErrors) {
  auto pool = small_pool();
  EXPECT_THROW(pool.append(7, 1), Error);
  EXPECT_THROW(pool.fork(7, 8), Error);
  pool.add_sequence(1);
  EXPECT_THROW(pool.add_sequence(1), Error);
  pool.add_sequence(2);
  EXPECT_THROW(pool.fork(1, 2), Error);
  EXPECT_THROW(pool.block_data(3), Error);  // free block
}

}  // namespace
}  // namespace gearbox::serve::kv

namespace gearbox::serve::kv {
namespace {

TEST(KvBlockPool, RawAllocationCountsLikeSequences) {
  KvBlockPool pool({4, 10, 120});  // 3 blocks
  const BlockId a = pool.allocate();
  const BlockId b = pool.allocate();
  pool.retain(a);
  EXPECT_EQ(pool.ref_count(a), 2);
  EXPECT_EQ(pool.stats().blocks_in_use, 2u);
  pool.release(a);
  EXPECT_EQ(pool.stats().blocks_in_use, 2u);
  pool.release(a);
  pool.release(b);
  EXPECT_EQ(pool.stats().blocks_free, 3u);
  EXPECT_THROW(pool.release(a), Error);
  pool.allocate();
  pool.allocate();
  pool.allocate();
  EXPECT_THROW(pool.allocate(), Error);
}

}  // namespace
}  // namespace gearbox::serve::kv
