// The reference KV cache: per sequence and layer, one contiguous float buffer of up to
// `max_tokens` rows, positions 0, 1, 2, ... Past max_tokens, begin() throws Error::input.
#pragma once

#include <map>
#include <vector>

#include "gearbox/serve/model/config.hpp"
#include "gearbox/serve/model/kv_cache.hpp"

namespace gearbox::serve {

class ContiguousKvCache final : public KvCache {
 public:
  // A cache for `cfg`'s layers and KV width, each sequence holding at most max_tokens rows,
  // stored as `elem` (fp16: half the bytes, values rounded to nearest even).
  ContiguousKvCache(const ModelConfig& cfg, int max_tokens, KvElem elem = KvElem::kF32);

  void begin(SeqId seq, int n_new, std::span<std::int32_t> positions) override;
  void write(int layer, SeqId seq, int n_new, const float* k, const float* v) override;
  KvView read(int layer, SeqId seq) override;
  bool stable_reads() const override { return true; }  // views point into each sequence's rows
  void commit(SeqId seq, int n_new) override;
  void abort(SeqId seq, int n_new) override;
  void remove(SeqId seq) override;
  bool contains(SeqId seq) const override;
  std::int64_t n_past(SeqId seq) const override;
  int n_rows(SeqId seq) const override;
  std::size_t bytes_in_use() const override;

  int max_tokens() const { return max_tokens_; }

 private:
  struct Seq {
    int n = 0;                                 // committed rows
    int pending = 0;                           // rows of the step in progress
    std::vector<std::vector<std::byte>> k, v;  // per layer, grown in chunks up to max_tokens
  };
  Seq& get(SeqId seq);
  const Seq* find(SeqId seq) const;

  int n_layer_, kv_dim_, max_tokens_;
  KvElem elem_;
  std::size_t value_bytes_;  // 4 (f32) or 2 (f16)
  std::map<SeqId, Seq> seqs_;
};

}  // namespace gearbox::serve
