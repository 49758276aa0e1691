// PrefixBlockCache: hash chain, LRU of cached blocks.
#include "gearbox/serve/kv/prefix_cache.hpp"

namespace gearbox::serve::kv {
namespace {

constexpr std::uint64_t kFnvOffset = 1469598103934665603ULL;
constexpr std::uint64_t kFnvPrime = 1099511628211ULL;

std::uint64_t mix(std::uint64_t x) {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

std::uint64_t hash_text(std::string_view text) {
  std::uint64_t h = kFnvOffset;
  for (unsigned char c : text) h = (h ^ c) * kFnvPrime;
  return h;
}

std::uint64_t chain_block_hash(std::uint64_t parent, std::span<const std::int32_t> tokens) {
  std::uint64_t h = mix(parent ^ kFnvOffset);
  for (std::int32_t t : tokens) h = mix(h ^ static_cast<std::uint32_t>(t)) * kFnvPrime;
  return mix(h ^ tokens.size());
}

PrefixBlockCache::~PrefixBlockCache() {
  for (const auto& [hash, e] : map_) pool_.release(e.block);
}

BlockId PrefixBlockCache::find(std::uint64_t hash) {
  auto it = map_.find(hash);
  if (it == map_.end()) return -1;
  lru_.splice(lru_.begin(), lru_, it->second.at);
  return it->second.block;
}

void PrefixBlockCache::insert(std::uint64_t hash, BlockId block) {
  if (map_.count(hash)) {
    find(hash);
    return;
  }
  pool_.retain(block);
  lru_.push_front(hash);
  map_.emplace(hash, Entry{block, lru_.begin()});
}

std::size_t PrefixBlockCache::evict(std::size_t n) {
  std::size_t freed = 0;
  for (auto it = lru_.end(); it != lru_.begin() && freed < n;) {
    --it;
    auto e = map_.find(*it);
    if (pool_.ref_count(e->second.block) != 1) continue;  // a sequence still reads it
    pool_.release(e->second.block);
    map_.erase(e);
    it = lru_.erase(it);
    ++freed;
  }
  return freed;
}

std::size_t PrefixBlockCache::idle_blocks() const {
  std::size_t n = 0;
  for (const auto& [hash, e] : map_) n += pool_.ref_count(e.block) == 1;
  return n;
}

}  // namespace gearbox::serve::kv
