// KvBlockPool: free list, reference counts, block tables, copy-on-write.
#include "gearbox/serve/kv/block_pool.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "gearbox/core/error.hpp"

namespace gearbox::serve::kv {

KvBlockPool::KvBlockPool(const KvPoolConfig& config)
    : block_tokens_(config.block_tokens),
      block_bytes_(config.block_tokens * config.bytes_per_token),
      budget_bytes_(config.budget_bytes),
      memory_(config.memory) {
  if (config.block_tokens == 0)
    throw Error::usage("KV block size must be positive").field("block_tokens").found("0");
  if (config.bytes_per_token == 0)
    throw Error::usage("KV bytes per token must be positive").field("bytes_per_token").found("0");
  if (config.bytes_per_token > budget_bytes_ / config.block_tokens)
    throw Error::usage("KV budget holds no block")
        .field("budget_bytes")
        .expected(">= " + std::to_string(block_bytes_))
        .found(std::to_string(budget_bytes_));
  const std::size_t n = budget_bytes_ / block_bytes_;
  ref_.assign(n, 0);
  data_.resize(n);
  free_.reserve(n);
  for (std::size_t i = n; i-- > 0;) free_.push_back(static_cast<BlockId>(i));
}

KvBlockPool::~KvBlockPool() {
  if (!memory_) return;
  std::size_t held = 0;
  for (int r : ref_) held += r > 0;
  memory_->uncharge(held * block_bytes_);
}

std::size_t KvBlockPool::free_blocks() const {
  if (!memory_) return free_.size();
  return std::min(free_.size(), memory_->available() / block_bytes_);
}

KvBlockPool::Sequence& KvBlockPool::get(SeqId seq) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end())
    throw Error::usage("unknown KV sequence").field("seq").found(std::to_string(seq));
  return it->second;
}

const KvBlockPool::Sequence& KvBlockPool::get(SeqId seq) const {
  return const_cast<KvBlockPool*>(this)->get(seq);
}

BlockId KvBlockPool::take_block() {
  if (free_.empty() || (memory_ && !memory_->try_charge(block_bytes_)))
    throw Error::runtime("KV cache budget exhausted")
        .field("kv_budget")
        .expected("a free block of " + std::to_string(block_bytes_) + " bytes")
        .found(std::to_string(free_blocks()) + " free");
  const BlockId b = free_.back();
  free_.pop_back();
  ref_[static_cast<std::size_t>(b)] = 1;
  auto& d = data_[static_cast<std::size_t>(b)];
  if (!d) {
    d.reset(new std::byte[block_bytes_]());
    ++reserved_blocks_;
  } else {
    std::memset(d.get(), 0, block_bytes_);
  }
  return b;
}

void KvBlockPool::release_block(BlockId block) {
  int& r = ref_[static_cast<std::size_t>(block)];
  if (--r != 0) return;
  free_.push_back(block);
  if (memory_) {  // the memory goes back to the shared budget
    data_[static_cast<std::size_t>(block)].reset();
    --reserved_blocks_;
    memory_->uncharge(block_bytes_);
  }
}

void KvBlockPool::add_sequence(SeqId seq) {
  if (seqs_.count(seq))
    throw Error::usage("KV sequence already exists").field("seq").found(std::to_string(seq));
  seqs_.emplace(seq, Sequence{});
}

void KvBlockPool::fork(SeqId parent, SeqId child) {
  const Sequence& p = get(parent);
  if (seqs_.count(child))
    throw Error::usage("KV sequence already exists").field("seq").found(std::to_string(child));
  Sequence c = p;
  for (BlockId b : c.blocks) ++ref_[static_cast<std::size_t>(b)];
  seqs_.emplace(child, std::move(c));
}

void KvBlockPool::free_sequence(SeqId seq) {
  Sequence& s = get(seq);
  for (BlockId b : s.blocks) release_block(b);
  seqs_.erase(seq);
}

std::size_t KvBlockPool::blocks_needed(SeqId seq, std::size_t n) const {
  const Sequence& s = get(seq);
  if (n == 0) return 0;
  if (n > ref_.size() * block_tokens_) return ref_.size() + 1;  // never fits; avoids overflow
  const std::size_t have = s.blocks.size() * block_tokens_;
  const std::size_t want = s.tokens + n;
  std::size_t need = want > have ? (want - have + block_tokens_ - 1) / block_tokens_ : 0;
  const bool partial = s.tokens % block_tokens_ != 0;
  if (partial && ref_[static_cast<std::size_t>(s.blocks.back())] > 1) ++need;
  return need;
}

void KvBlockPool::append(SeqId seq, std::size_t n) {
  const std::size_t need = blocks_needed(seq, n);
  if (need > free_blocks())
    throw Error::runtime("KV cache budget exhausted")
        .field("kv_budget")
        .expected(std::to_string(need) + " free blocks of " + std::to_string(block_bytes_) +
                  " bytes")
        .found(std::to_string(free_blocks()) + " free of " + std::to_string(ref_.size()));
  if (n == 0) return;
  Sequence& s = get(seq);
  if (s.tokens % block_tokens_ != 0) {
    const BlockId last = s.blocks.back();
    if (ref_[static_cast<std::size_t>(last)] > 1) {
      const BlockId copy = take_block();
      std::memcpy(block_data(copy), block_data(last), block_bytes_);
      release_block(last);
      s.blocks.back() = copy;
    }
  }
  s.tokens += n;
  while (s.blocks.size() * block_tokens_ < s.tokens) s.blocks.push_back(take_block());
}

void KvBlockPool::truncate(SeqId seq, std::size_t n) {
  Sequence& s = get(seq);
  if (n > s.tokens)
    throw Error::usage("cannot remove more KV tokens than stored")
        .field("n")
        .expected("<= " + std::to_string(s.tokens))
        .found(std::to_string(n));
  s.tokens -= n;
  const std::size_t keep = (s.tokens + block_tokens_ - 1) / block_tokens_;
  while (s.blocks.size() > keep) {
    release_block(s.blocks.back());
    s.blocks.pop_back();
  }
}

BlockId KvBlockPool::allocate() {
  return take_block();
}

void KvBlockPool::retain(BlockId block) {
  if (ref_count(block) == 0)
    throw Error::usage("KV block is free").field("block").found(std::to_string(block));
  ++ref_[static_cast<std::size_t>(block)];
}

void KvBlockPool::release(BlockId block) {
  if (ref_count(block) == 0)
    throw Error::usage("KV block is free").field("block").found(std::to_string(block));
  release_block(block);
}

std::size_t KvBlockPool::seq_tokens(SeqId seq) const {
  return get(seq).tokens;
}

std::span<const BlockId> KvBlockPool::block_table(SeqId seq) const {
  return get(seq).blocks;
}

KvSlot KvBlockPool::slot(SeqId seq, std::size_t index) const {
  const Sequence& s = get(seq);
  if (index >= s.tokens)
    throw Error::usage("KV token index out of range")
        .field("index")
        .expected("< " + std::to_string(s.tokens))
        .found(std::to_string(index));
  return {s.blocks[index / block_tokens_], index % block_tokens_};
}

int KvBlockPool::ref_count(BlockId block) const {
  if (block < 0 || static_cast<std::size_t>(block) >= ref_.size())
    throw Error::usage("KV block id out of range").field("block").found(std::to_string(block));
  return ref_[static_cast<std::size_t>(block)];
}

std::byte* KvBlockPool::block_data(BlockId block) {
  if (ref_count(block) == 0)
    throw Error::usage("KV block is free").field("block").found(std::to_string(block));
  return data_[static_cast<std::size_t>(block)].get();
}

const std::byte* KvBlockPool::block_data(BlockId block) const {
  return const_cast<KvBlockPool*>(this)->block_data(block);
}

KvPoolStats KvBlockPool::stats() const {
  KvPoolStats st;
  st.block_tokens = block_tokens_;
  st.block_bytes = block_bytes_;
  st.blocks_total = ref_.size();
  st.blocks_in_use = st.blocks_total - free_.size();
  st.blocks_free = free_blocks();
  st.bytes_budget = budget_bytes_;
  st.bytes_in_use = st.blocks_in_use * block_bytes_;
  st.bytes_reserved = reserved_blocks_ * block_bytes_;
  st.sequences = seqs_.size();
  for (const auto& [id, s] : seqs_) st.tokens += s.tokens;
  return st;
}

}  // namespace gearbox::serve::kv
