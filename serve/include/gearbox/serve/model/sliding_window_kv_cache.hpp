// Sliding-window layers as a native cache policy. A model whose config has local layers
// (ModelConfig::is_local_layer: Gemma 3's five of every six) attends there only to the last
// `sliding_window` positions, so for those layers this cache keeps a ring buffer of
// sliding_window - 1 + max_step rows per sequence, whatever the sequence's length; the global
// layers go to `global`, any KvCache built for global_config(cfg) (their layers renumbered
// 0, 1, ...), so a CAP policy (full, streaming, quant, offload) applies to them alone.
// Steps larger than max_step are refused (callers chunk prefills by max_step()).
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "gearbox/serve/model/config.hpp"
#include "gearbox/serve/model/kv_cache.hpp"

namespace gearbox::serve {

class SlidingWindowKvCache final : public KvCache {
 public:
  // cfg must have local layers (sliding_window > 0); `global` (not null) serves the global
  // layers and gives every token's position. Throws Error::usage otherwise or for max_step < 1.
  SlidingWindowKvCache(const ModelConfig& cfg, std::unique_ptr<KvCache> global, int max_step);
  // As above over a global cache owned elsewhere (it must outlive this one).
  SlidingWindowKvCache(const ModelConfig& cfg, KvCache& global, int max_step);

  // `cfg` restricted to its global layers (n_layer = their count, no local layers).
  static ModelConfig global_config(const ModelConfig& cfg);

  void begin(SeqId seq, int n_new, std::span<std::int32_t> positions) override;
  void write(int layer, SeqId seq, int n_new, const float* k, const float* v) override;
  KvView read(int layer, SeqId seq) override;
  // Ring views point into each sequence's own rings, which only begin() resizes: stable when
  // the global cache's are.
  bool stable_reads() const override { return global_->stable_reads(); }
  bool wants_attention() const override { return global_->wants_attention(); }
  void observe_attention(int layer, SeqId seq, std::span<const float> weights) override;
  void commit(SeqId seq, int n_new) override;
  void abort(SeqId seq, int n_new) override;
  void remove(SeqId seq) override;
  bool contains(SeqId seq) const override;
  std::int64_t n_past(SeqId seq) const override;
  // Rows held by the global layers (the local ones hold at most ring_rows()).
  int n_rows(SeqId seq) const override;
  // Global layers' bytes plus every ring buffer's.
  std::size_t bytes_in_use() const override;

  // Copies the local layers' rows of `parent` into a new sequence `child` (the caller forks
  // the global cache itself, e.g. PagedKvCache::fork). Throws Error::usage for an unknown
  // parent, an existing child, or a parent with a step in progress.
  void fork_local(SeqId parent, SeqId child);

  int max_step() const { return max_step_; }
  int ring_rows() const { return ring_; }

 private:
  struct Seq {
    std::int64_t n = 0;                    // committed tokens
    int pending = 0;                       // tokens of the step in progress
    std::vector<std::vector<float>> k, v;  // per local layer, ring_ rows of kv_dim
  };
  Seq& get(SeqId seq);

  std::unique_ptr<KvCache> owned_;
  KvCache* global_ = nullptr;
  int kv_dim_, max_step_, ring_;
  std::vector<int> slot_;  // layer -> ring index (local) or global layer index
  std::vector<bool> local_;
  int n_local_ = 0;
  std::map<SeqId, Seq> seqs_;
};

}  // namespace gearbox::serve
