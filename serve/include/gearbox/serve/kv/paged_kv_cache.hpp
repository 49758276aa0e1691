// PagedKvCache: the KvCache (model/kv_cache.hpp) behind which the CAP policies live. Rows are
// stored in KvBlockPool blocks (block layout: for each layer, block_tokens K rows then
// block_tokens V rows, each row in the configured KvRowFormat), in row order. On top of it:
//   - a context limit (the `full` policy's explicit error past the trained context);
//   - eviction at begin(): StreamingLLM (sink + window) or H2O (recent + heavy hitters by
//     attention accumulated through observe_attention, per layer as in the H2O paper: each
//     layer keeps its own heavy hitters, so layers hold different tokens in the same number
//     of rows), compacting rows and, with cache positions, re-rotating shifted keys by their
//     position change;
//   - quantized rows (int8/int4), decoded into a scratch buffer by read();
//   - offload: when a sequence's resident blocks would exceed the pool (or `hot_tokens`), its
//     oldest block is moved to host memory or a temporary file and read back by read().
// Only resident blocks count in bytes_in_use(); cold_bytes() counts the spilled ones.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "gearbox/serve/kv/block_pool.hpp"
#include "gearbox/serve/kv/kv_memory.hpp"
#include "gearbox/serve/kv/prefix_cache.hpp"
#include "gearbox/serve/kv/row_codec.hpp"
#include "gearbox/serve/model/kv_cache.hpp"

namespace gearbox::serve::kv {

enum class EvictionKind { kNone, kStreaming, kH2o };
enum class OffloadKind { kNone, kHost, kFile };

struct PagedKvConfig {
  int n_layer = 0;
  int kv_dim = 0;
  std::size_t block_tokens = 16;
  std::size_t budget_bytes = std::size_t{1} << 30;  // resident (pool) budget
  std::shared_ptr<KvMemory> memory = nullptr;       // optional budget shared with other caches
  KvRowFormat format = KvRowFormat::kF32;
  std::int64_t ctx_limit = INT64_MAX;  // non-evicting caches refuse tokens past it

  EvictionKind eviction = EvictionKind::kNone;
  int sink = 4, window = 1024;      // streaming
  int budget = 1024, recent = 512;  // h2o (rows kept in total, most recent always kept)
  bool cache_positions = true;      // evicting: positions are row slots (else original index)

  OffloadKind offload = OffloadKind::kNone;
  std::int64_t hot_tokens = 0;  // offload: resident tokens per sequence (0 = pool limit)

  // Automatic prefix caching (reuse_prefix / cache_prefix); honoured only where rows are exact
  // functions of the prefix and stay put: no eviction, no offload.
  bool prefix_cache = false;

  // Rotates the n_heads heads of one stored key row by a position delta (apply_rope with the
  // sequence's RoPE spec); needed when evicting with cache positions.
  std::function<void(float* k, int n_heads, std::int64_t delta)> rotate;
  int n_head_kv = 1;
};

class PagedKvCache final : public KvCache {
 public:
  // Throws Error::usage on an inconsistent config (no layers, evicting without rotate, ...).
  explicit PagedKvCache(PagedKvConfig config);
  ~PagedKvCache() override;

  void begin(serve::SeqId seq, int n_new, std::span<std::int32_t> positions) override;
  void write(int layer, serve::SeqId seq, int n_new, const float* k, const float* v) override;
  KvView read(int layer, serve::SeqId seq) override;
  // f32 rows without offload are read in place (other formats and cold blocks go through one
  // shared scratch buffer).
  bool stable_reads() const override {
    return cfg_.format == KvRowFormat::kF32 && cfg_.offload == OffloadKind::kNone;
  }
  bool wants_attention() const override { return cfg_.eviction == EvictionKind::kH2o; }
  void observe_attention(int layer, serve::SeqId seq, std::span<const float> weights) override;
  void commit(serve::SeqId seq, int n_new) override;
  void abort(serve::SeqId seq, int n_new) override;
  void remove(serve::SeqId seq) override;
  bool contains(serve::SeqId seq) const override;
  std::int64_t n_past(serve::SeqId seq) const override;
  int n_rows(serve::SeqId seq) const override;
  std::size_t bytes_in_use() const override;

  // Makes `child` an independent copy of `parent` (rows, positions, scores, tokens past), so
  // that requests sharing a prompt prefix compute it once: later steps on either sequence do
  // not affect the other. Blocks are copied (not shared): from the pool, or into the cold
  // store under offload once the resident budget is used. Throws Error::usage for an unknown
  // parent, an existing child or a step in progress, Error::input when the budget cannot hold
  // the copy (nothing is kept then).
  void fork(serve::SeqId parent, serve::SeqId child);
  // Resident blocks a step (or several) appending `n_new` tokens to `seq` (absent: a new
  // sequence) would take from the pool beyond what the sequence holds: the blocks its rows
  // grow into, bounded by the window for evicting policies; under offload only the blocks the
  // step must hold resident beyond the settled ones it can spill.
  std::size_t step_blocks(serve::SeqId seq, std::size_t n_new) const;
  // True when this cache keeps a prefix cache (see PagedKvConfig::prefix_cache).
  bool caches_prefixes() const { return prefix_ != nullptr; }
  // Starts new sequence `seq` with the longest run of cached blocks whose chained hashes are
  // `hashes[0..]` (hashes of the prompt's full blocks, chain_block_hash) and returns the
  // tokens it now holds (a multiple of block_tokens; 0 without a prefix cache or a hit).
  // Throws Error::usage when `seq` exists.
  std::size_t reuse_prefix(serve::SeqId seq, std::span<const std::uint64_t> hashes);
  // Indexes blocks [first, first + hashes.size()) of `seq` (full, committed) under `hashes`
  // so later sequences can reuse them. Blocks not yet full are skipped.
  void cache_prefix(serve::SeqId seq, std::size_t first, std::span<const std::uint64_t> hashes);
  // Frees up to `n` cached blocks no sequence holds, least recently used first; returns how
  // many.
  std::size_t drop_cached(std::size_t n) { return prefix_ ? prefix_->evict(n) : 0; }
  // Blocks held only by the prefix cache (freed on demand).
  std::size_t cached_blocks() const { return prefix_ ? prefix_->idle_blocks() : 0; }
  // Bytes of spilled (offloaded) blocks, over all sequences.
  std::size_t cold_bytes() const;
  // Bytes one token takes in every layer's K and V (the format's row bytes x 2 x n_layer).
  std::size_t bytes_per_token() const { return bytes_per_token_; }
  // For tests and reports: the original token index and RoPE position of each row held at
  // `layer` (layers differ only under h2o).
  std::vector<std::int64_t> row_tokens(serve::SeqId seq, int layer = 0) const;
  std::vector<std::int32_t> row_positions(serve::SeqId seq, int layer = 0) const;
  // Attention accumulated at `layer` per held row (h2o).
  std::vector<double> row_scores(serve::SeqId seq, int layer = 0) const;
  // Blocks read back from cold storage so far.
  std::int64_t blocks_reloaded() const { return reloads_; }
  const KvBlockPool& pool() const { return pool_; }

 private:
  struct BlockRef {
    BlockId hot = -1;        // pool block, or -1 when spilled
    std::int64_t cold = -1;  // index in the cold store when spilled
  };
  struct Row {
    std::int64_t token = 0;   // original index in the sequence
    std::int32_t pos = 0;     // RoPE position attention sees it at
    std::int32_t stored = 0;  // position its stored key is rotated at (quantized rows are
                              // re-rotated by pos - stored when read, not re-encoded)
    double score = 0;         // accumulated attention (h2o)
  };
  using Victims = std::vector<std::vector<std::size_t>>;  // per row table, ascending
  struct Seq {
    std::vector<BlockRef> blocks;
    // Row tables: held rows, then the pending step's. One table for all layers, or one per
    // layer under h2o (same length, different tokens); table(layer) picks.
    std::vector<std::vector<Row>> rows;
    int pending = 0;
    std::int64_t past = 0;
  };

  Seq& get(serve::SeqId seq);
  const Seq* find(serve::SeqId seq) const;
  std::size_t tables() const { return per_layer_ ? static_cast<std::size_t>(cfg_.n_layer) : 1; }
  std::size_t table(int layer) const { return per_layer_ ? static_cast<std::size_t>(layer) : 0; }
  static std::size_t held_rows(const Seq& s) { return s.rows.empty() ? 0 : s.rows[0].size(); }
  std::vector<std::size_t> choose_victims(const std::vector<Row>& rows, std::size_t evict,
                                          std::size_t n_new) const;
  void compact(Seq& s, const Victims& victims);
  void ensure_blocks(Seq& s, std::size_t rows);
  void spill_oldest(Seq& s);
  void make_resident(Seq& s, std::size_t block);
  std::byte* row_ptr(const Seq& s, std::size_t row, int layer, bool value);
  void load_cold(std::int64_t cold, int layer, std::byte* out);
  void load_cold_block(std::int64_t cold, std::byte* out);
  std::int64_t store_cold(const std::byte* block);
  void free_cold(std::int64_t cold);

  PagedKvConfig cfg_;
  bool per_layer_;  // one row table per layer (h2o)
  std::size_t row_bytes_;
  std::size_t bytes_per_token_;
  KvBlockPool pool_;
  std::unique_ptr<PrefixBlockCache> prefix_;  // after pool_: released before it
  std::map<serve::SeqId, Seq> seqs_;
  std::vector<float> scratch_;  // decoded rows for read()
  std::vector<std::byte> cold_buf_;
  std::vector<float> rot_buf_;
  // Cold store: host blocks or file slots, reused through a free list.
  std::vector<std::vector<std::byte>> cold_host_;
  std::FILE* cold_file_ = nullptr;
  std::int64_t cold_slots_ = 0;
  std::vector<std::int64_t> cold_free_;
  std::int64_t reloads_ = 0;
};

}  // namespace gearbox::serve::kv
