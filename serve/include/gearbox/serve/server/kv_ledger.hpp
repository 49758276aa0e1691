// KvBlockLedger: the scheduler's admission accounting of KV-cache blocks. A sequence reserves,
// when admitted, the blocks its worst case needs (prompt plus max new tokens, capped by its
// context), so an admitted sequence never runs out of cache and nothing is preempted; the
// blocks return the moment it finishes, is cancelled or its client goes away. It counts blocks
// only (the runner's cache owns the memory). Not thread-safe: the scheduler owns it.
#pragma once

#include <cstddef>
#include <unordered_map>

#include "gearbox/serve/server/model_runner.hpp"

namespace gearbox::serve::server {

class KvBlockLedger {
 public:
  // `total_blocks` blocks of `block_tokens` tokens each (both > 0, else Error::usage).
  KvBlockLedger(std::size_t block_tokens, std::size_t total_blocks);

  // Blocks needed to hold `tokens` tokens.
  std::size_t blocks_for(std::size_t tokens) const;
  // Reserves blocks for `tokens` tokens of `seq`; false (and nothing reserved) when too few are
  // free. Throws Error::usage if `seq` already holds a reservation.
  bool reserve(SequenceId seq, std::size_t tokens);
  // Returns `seq`'s blocks; unknown ids are ignored.
  void release(SequenceId seq);

  std::size_t block_tokens() const { return block_tokens_; }
  std::size_t blocks_total() const { return total_; }
  std::size_t blocks_in_use() const { return in_use_; }
  std::size_t blocks_free() const { return total_ - in_use_; }

 private:
  std::size_t block_tokens_;
  std::size_t total_;
  std::size_t in_use_ = 0;
  std::unordered_map<SequenceId, std::size_t> held_;
};

}  // namespace gearbox::serve::server
