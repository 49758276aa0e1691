#include "gearbox/serve/server/kv_ledger.hpp"

#include "gearbox/core/error.hpp"

namespace gearbox::serve::server {

KvBlockLedger::KvBlockLedger(std::size_t block_tokens, std::size_t total_blocks)
    : block_tokens_(block_tokens), total_(total_blocks) {
  if (block_tokens == 0) throw Error::usage("KV block size must be > 0").field("block_tokens");
  if (total_blocks == 0) {
    throw Error::usage("the KV budget holds no block").field("kv-budget").expected(">= 1 block");
  }
}

std::size_t KvBlockLedger::blocks_for(std::size_t tokens) const {
  return (tokens + block_tokens_ - 1) / block_tokens_;
}

bool KvBlockLedger::reserve(SequenceId seq, std::size_t tokens) {
  if (held_.count(seq)) {
    throw Error::usage("sequence already holds KV blocks").field("seq").found(std::to_string(seq));
  }
  const std::size_t need = blocks_for(tokens);
  if (need > blocks_free()) return false;
  held_.emplace(seq, need);
  in_use_ += need;
  return true;
}

void KvBlockLedger::release(SequenceId seq) {
  auto it = held_.find(seq);
  if (it == held_.end()) return;
  in_use_ -= it->second;
  held_.erase(it);
}

}  // namespace gearbox::serve::server
