// The KV cache seam between the model's attention and the memory policies. The model only
// talks to this interface; a contiguous cache (contiguous_kv_cache.hpp) is the reference
// implementation, and paged / evicting / quantized / offloaded caches sit behind it.
//
// One forward step over `n_new` tokens of sequence `seq` makes these calls, in order:
//   1. begin(seq, n_new, positions)       -> the cache makes room and says which RoPE
//                                            position each new token gets;
//   2. for each layer l:
//        write(l, seq, n_new, k, v)        -> K (already rotated at those positions) and V;
//        read(l, seq)                      -> every row attention must see, the n_new rows
//                                             just written LAST and in order (causal masking:
//                                             new token i sees all rows but the last
//                                             n_new-1-i);
//        observe_attention(l, seq, w)      -> only if wants_attention(): softmax weights
//                                             summed over heads and new tokens, one per row
//                                             of read() (heavy-hitter policies use it);
//   3. commit(seq, n_new)                  -> the step is done (a policy may evict now).
// Keys are stored post-RoPE; a policy that re-positions tokens (StreamingLLM) shifts stored
// keys with apply_rope(spec, k, n_head_kv, delta) (rope.hpp), as llama.cpp's context shift does.
// Pointers returned by read() stay valid until the next call on the cache.
// The model calls the cache from one thread; implementations need no locking for that.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace gearbox::serve {

using SeqId = std::int32_t;

// The element type of cached rows: float, or IEEE fp16 (half the bytes, as llama.cpp's
// default cache; attention widens it in registers).
enum class KvElem { kF32, kF16 };

// A run of consecutive cached rows: n rows of kv_dim values each, row stride in values.
// Floats at k/v, or fp16 bits at k16/v16 when the view's elem is kF16.
struct KvSpan {
  const float* k = nullptr;
  const float* v = nullptr;
  int n = 0;
  std::size_t k_stride = 0;  // values between consecutive rows of k
  std::size_t v_stride = 0;
  const std::uint16_t* k16 = nullptr;
  const std::uint16_t* v16 = nullptr;
};

// What attention reads for one (layer, sequence): spans in row order, all of one element type.
struct KvView {
  std::vector<KvSpan> spans;
  KvElem elem = KvElem::kF32;
  int n_rows() const {
    int n = 0;
    for (const auto& s : spans) n += s.n;
    return n;
  }
};

class KvCache {
 public:
  virtual ~KvCache() = default;

  // Makes room for n_new tokens of `seq` (creating the sequence on first use) and writes the
  // RoPE position of each into positions (size n_new). Throws Error::input when the policy
  // cannot hold them (e.g. past the trained context for `full`), leaving the cache unchanged.
  virtual void begin(SeqId seq, int n_new, std::span<std::int32_t> positions) = 0;
  // Stores the n_new rows (k, v: n_new x kv_dim floats, row-major) of `layer`.
  virtual void write(int layer, SeqId seq, int n_new, const float* k, const float* v) = 0;
  // The rows attention reads at `layer` (see the contract above).
  virtual KvView read(int layer, SeqId seq) = 0;
  // True when a view returned by read() stays valid through read() calls for other sequences
  // (until the next begin, write, commit or abort): the model may then read every sequence of
  // a decode batch first and run their attention together. False (the default): each view is
  // used before the next call, as the contract above says.
  virtual bool stable_reads() const { return false; }
  // True when the policy wants per-row attention weights through observe_attention().
  virtual bool wants_attention() const { return false; }
  // Per-row attention weights of the current step at `layer` (size read(layer, seq).n_rows()).
  virtual void observe_attention(int layer, SeqId seq, std::span<const float> weights) {
    (void)layer, (void)seq, (void)weights;
  }
  // Ends the step begun by begin(seq, n_new, ...).
  virtual void commit(SeqId seq, int n_new) = 0;
  // Undoes a begin() whose step failed (no rows of it stay).
  virtual void abort(SeqId seq, int n_new) = 0;

  // Forgets `seq` and frees its memory; unknown ids are ignored.
  virtual void remove(SeqId seq) = 0;
  // Whether `seq` exists.
  virtual bool contains(SeqId seq) const = 0;
  // Tokens processed for `seq` so far (the next token's logical index); 0 if unknown.
  virtual std::int64_t n_past(SeqId seq) const = 0;
  // Rows currently held for `seq` (<= n_past when the policy evicts).
  virtual int n_rows(SeqId seq) const = 0;
  // Bytes of K/V storage in use now, over all sequences.
  virtual std::size_t bytes_in_use() const = 0;
};

}  // namespace gearbox::serve
