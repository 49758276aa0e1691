// KvBlockPool: the paged KV cache's memory. A pool of fixed-size blocks (a block holds
// `block_tokens` tokens of K and V for every layer, `block_bytes` bytes whose layout belongs to
// the cache using the pool) under a byte budget; per-sequence block tables; reference counts so
// sequences share a prefix (fork), with copy-on-write of a shared, partially filled last block.
// Accounting is exact: bytes in use = blocks in use x block_bytes. The server's /metrics and
// admission control read stats(). With a shared KvMemory, a block's bytes are charged to it
// (and allocated) when handed out and returned (and freed) when the block is freed, so the
// pools on one KvMemory together stay under its budget. Not thread-safe: one owner (the
// scheduler) drives it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "gearbox/serve/kv/kv_memory.hpp"

namespace gearbox::serve::kv {

using BlockId = std::int32_t;
using SeqId = std::int64_t;

struct KvPoolConfig {
  std::size_t block_tokens = 16;    // tokens per block (> 0)
  std::size_t bytes_per_token = 0;  // bytes one token's K and V take in all layers (> 0)
  std::size_t budget_bytes = 0;     // byte budget; capacity = budget / block_bytes blocks
  // Optional budget shared with other pools (null: this pool's own budget only).
  std::shared_ptr<KvMemory> memory = nullptr;
};

struct KvPoolStats {
  std::size_t block_tokens = 0;
  std::size_t block_bytes = 0;
  std::size_t blocks_total = 0;   // capacity under the budget
  std::size_t blocks_in_use = 0;  // referenced by at least one sequence
  std::size_t blocks_free = 0;    // free_blocks(): blocks_total - blocks_in_use, or fewer
                                  // when a shared KvMemory has less left
  std::size_t bytes_budget = 0;
  std::size_t bytes_in_use = 0;    // blocks_in_use * block_bytes
  std::size_t bytes_reserved = 0;  // host memory actually allocated for blocks so far
  std::size_t sequences = 0;
  std::size_t tokens = 0;  // sum over sequences of their token counts (shared counted
                           // once per sequence)
};

// Where one token of a sequence lives.
struct KvSlot {
  BlockId block = -1;
  std::size_t offset = 0;  // token index inside the block, < block_tokens
};

class KvBlockPool {
 public:
  // Throws Error::usage when block_tokens or bytes_per_token is 0 or the budget holds no block.
  explicit KvBlockPool(const KvPoolConfig& config);
  ~KvBlockPool();
  KvBlockPool(const KvBlockPool&) = delete;
  KvBlockPool& operator=(const KvBlockPool&) = delete;

  std::size_t block_tokens() const { return block_tokens_; }
  std::size_t block_bytes() const { return block_bytes_; }
  std::size_t capacity_blocks() const { return ref_.size(); }

  // Registers an empty sequence. Throws Error::usage if `seq` exists.
  void add_sequence(SeqId seq);
  // True when `seq` is registered.
  bool has_sequence(SeqId seq) const { return seqs_.count(seq) != 0; }
  // Makes `child` share every block of `parent` (reference counts +1); no copy until one of
  // them appends into a shared partial block. Throws Error::usage on unknown parent/existing
  // child.
  void fork(SeqId parent, SeqId child);
  // Drops the sequence; blocks whose count reaches zero return to the free list.
  void free_sequence(SeqId seq);

  // Blocks `append(seq, n)` would take from the free list (new blocks plus a copy-on-write).
  std::size_t blocks_needed(SeqId seq, std::size_t n) const;
  // True when `append(seq, n)` would succeed.
  bool can_append(SeqId seq, std::size_t n) const { return blocks_needed(seq, n) <= free_blocks(); }
  // Extends `seq` by n token slots, copying a shared partial last block first (copy-on-write:
  // the new private block receives the old block's bytes). Throws Error::runtime naming the
  // budget when the pool lacks blocks; then nothing changes.
  void append(SeqId seq, std::size_t n);
  // Removes the last n tokens of `seq` (n <= its length), freeing emptied blocks.
  void truncate(SeqId seq, std::size_t n);

  // Tokens stored for `seq`.
  std::size_t seq_tokens(SeqId seq) const;
  // The sequence's block table, in token order.
  std::span<const BlockId> block_table(SeqId seq) const;
  // Where token `index` (< seq_tokens) of `seq` lives.
  KvSlot slot(SeqId seq, std::size_t index) const;
  // Raw allocation for caches that keep their own tables (evicting, offloading caches): takes
  // one free, zeroed block with reference count 1. Throws Error::runtime when none is free.
  BlockId allocate();
  // Adds a reference to an allocated block (sharing it).
  void retain(BlockId block);
  // Drops one reference; the block returns to the free list at zero.
  void release(BlockId block);
  // Blocks that can be handed out now: free in this pool and, with a shared KvMemory, within
  // what it has left.
  std::size_t free_blocks() const;

  // Number of references to `block` (0 when free).
  int ref_count(BlockId block) const;
  // The block's bytes (block_bytes long, zero when first handed out). Writing into a block
  // that is shared (ref_count > 1) changes every sharer: callers write only after append().
  std::byte* block_data(BlockId block);
  const std::byte* block_data(BlockId block) const;

  KvPoolStats stats() const;

 private:
  struct Sequence {
    std::vector<BlockId> blocks;
    std::size_t tokens = 0;
  };
  Sequence& get(SeqId seq);
  const Sequence& get(SeqId seq) const;
  BlockId take_block();
  void release_block(BlockId block);

  std::size_t block_tokens_;
  std::size_t block_bytes_;
  std::size_t budget_bytes_;
  std::vector<int> ref_;                            // per block
  std::vector<std::unique_ptr<std::byte[]>> data_;  // per block, allocated on first use
  std::vector<BlockId> free_;                       // stack of free block ids
  std::unordered_map<SeqId, Sequence> seqs_;
  std::size_t reserved_blocks_ = 0;
  std::shared_ptr<KvMemory> memory_;
};

}  // namespace gearbox::serve::kv
