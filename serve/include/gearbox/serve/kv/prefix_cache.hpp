// PrefixBlockCache: automatic prefix caching's index. Full KV blocks are named by a hash
// chained over every token up to the block's end (and a salt naming the model and policy), so
// one hash stands for a whole prefix. The cache holds one reference to each block it indexes:
// a block stays cached after the sequences that wrote it are gone, until memory is needed,
// least recently used first. Only blocks nobody else holds can be evicted. Not thread-safe:
// its cache's owner drives it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <span>
#include <string_view>
#include <unordered_map>

#include "gearbox/serve/kv/block_pool.hpp"

namespace gearbox::serve::kv {

// Chains block hashes: the hash of the prefix ending with `tokens` (one block) after the
// prefix hashed `parent` (the salt for the first block). Deterministic across runs.
std::uint64_t chain_block_hash(std::uint64_t parent, std::span<const std::int32_t> tokens);
// A salt from text (model and policy names): FNV-1a 64.
std::uint64_t hash_text(std::string_view text);

class PrefixBlockCache {
 public:
  // `pool` must outlive the cache.
  explicit PrefixBlockCache(KvBlockPool& pool) : pool_(pool) {}
  ~PrefixBlockCache();
  PrefixBlockCache(const PrefixBlockCache&) = delete;
  PrefixBlockCache& operator=(const PrefixBlockCache&) = delete;

  // The block cached for `hash`, now most recently used; -1 when absent.
  BlockId find(std::uint64_t hash);
  // Indexes `block` (full, never written again) under `hash`, taking a reference; a hash
  // already cached keeps its block.
  void insert(std::uint64_t hash, BlockId block);
  // Releases up to `n` least recently used blocks that only the cache holds; returns how many.
  std::size_t evict(std::size_t n);
  // Blocks only the cache holds (evictable).
  std::size_t idle_blocks() const;
  std::size_t size() const { return map_.size(); }

 private:
  struct Entry {
    BlockId block = -1;
    std::list<std::uint64_t>::iterator at;
  };
  KvBlockPool& pool_;
  std::list<std::uint64_t> lru_;  // front: most recently used
  std::unordered_map<std::uint64_t, Entry> map_;
};

}  // namespace gearbox::serve::kv
