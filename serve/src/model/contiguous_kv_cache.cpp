#include "gearbox/serve/model/contiguous_kv_cache.hpp"

#include <algorithm>
#include <cstring>

#include "gearbox/core/error.hpp"
#include "gearbox/serve/kernels/fp16.hpp"

namespace gearbox::serve {

ContiguousKvCache::ContiguousKvCache(const ModelConfig& cfg, int max_tokens, KvElem elem)
    : n_layer_(cfg.n_layer),
      kv_dim_(cfg.kv_dim()),
      max_tokens_(max_tokens),
      elem_(elem),
      value_bytes_(elem == KvElem::kF16 ? 2 : 4) {
  if (max_tokens <= 0)
    throw Error::usage("KV cache size must be positive").found(std::to_string(max_tokens));
}

ContiguousKvCache::Seq& ContiguousKvCache::get(SeqId seq) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) throw Error::usage("unknown sequence id").found(std::to_string(seq));
  return it->second;
}

const ContiguousKvCache::Seq* ContiguousKvCache::find(SeqId seq) const {
  auto it = seqs_.find(seq);
  return it == seqs_.end() ? nullptr : &it->second;
}

void ContiguousKvCache::begin(SeqId seq, int n_new, std::span<std::int32_t> positions) {
  if (n_new <= 0 || positions.size() != static_cast<std::size_t>(n_new))
    throw Error::usage("begin: bad token count").found(std::to_string(n_new));
  auto [it, created] = seqs_.try_emplace(seq);
  Seq& s = it->second;
  if (s.pending != 0) throw Error::usage("begin: a step is already in progress for this sequence");
  if (static_cast<std::int64_t>(s.n) + n_new > max_tokens_) {
    const int had = s.n;
    if (created) seqs_.erase(it);
    throw Error::input("context full")
        .field("ctx")
        .expected("at most " + std::to_string(max_tokens_) + " tokens")
        .found(std::to_string(had) + " + " + std::to_string(n_new));
  }
  const std::size_t need =
      static_cast<std::size_t>(s.n + n_new) * static_cast<std::size_t>(kv_dim_) * value_bytes_;
  if (s.k.empty()) {
    s.k.resize(static_cast<std::size_t>(n_layer_));
    s.v.resize(static_cast<std::size_t>(n_layer_));
  }
  for (int l = 0; l < n_layer_; ++l) {
    auto& k = s.k[static_cast<std::size_t>(l)];
    auto& v = s.v[static_cast<std::size_t>(l)];
    if (k.size() < need) {
      // Grow geometrically (capped at max_tokens) so appends are amortised O(1).
      const std::size_t cap = std::min<std::size_t>(
          std::max(need, k.size() * 2),
          static_cast<std::size_t>(max_tokens_) * static_cast<std::size_t>(kv_dim_) * value_bytes_);
      k.resize(cap);
      v.resize(cap);
    }
  }
  for (int i = 0; i < n_new; ++i) positions[static_cast<std::size_t>(i)] = s.n + i;
  s.pending = n_new;
}

void ContiguousKvCache::write(int layer, SeqId seq, int n_new, const float* k, const float* v) {
  Seq& s = get(seq);
  if (n_new != s.pending || layer < 0 || layer >= n_layer_)
    throw Error::usage("write: does not match the step begun");
  const std::size_t off =
      static_cast<std::size_t>(s.n) * static_cast<std::size_t>(kv_dim_) * value_bytes_;
  const std::size_t len = static_cast<std::size_t>(n_new) * static_cast<std::size_t>(kv_dim_);
  std::byte* kd = s.k[static_cast<std::size_t>(layer)].data() + off;
  std::byte* vd = s.v[static_cast<std::size_t>(layer)].data() + off;
  if (elem_ == KvElem::kF16) {
    floats_to_fp16(k, len, reinterpret_cast<std::uint16_t*>(kd));
    floats_to_fp16(v, len, reinterpret_cast<std::uint16_t*>(vd));
  } else {
    std::memcpy(kd, k, len * sizeof(float));
    std::memcpy(vd, v, len * sizeof(float));
  }
}

KvView ContiguousKvCache::read(int layer, SeqId seq) {
  Seq& s = get(seq);
  KvView view;
  const auto kd = static_cast<std::size_t>(kv_dim_);
  const std::byte* k = s.k[static_cast<std::size_t>(layer)].data();
  const std::byte* v = s.v[static_cast<std::size_t>(layer)].data();
  KvSpan span;
  span.n = s.n + s.pending;
  span.k_stride = span.v_stride = kd;
  if (elem_ == KvElem::kF16) {
    view.elem = KvElem::kF16;
    span.k16 = reinterpret_cast<const std::uint16_t*>(k);
    span.v16 = reinterpret_cast<const std::uint16_t*>(v);
  } else {
    span.k = reinterpret_cast<const float*>(k);
    span.v = reinterpret_cast<const float*>(v);
  }
  view.spans.push_back(span);
  return view;
}

void ContiguousKvCache::commit(SeqId seq, int n_new) {
  Seq& s = get(seq);
  if (n_new != s.pending) throw Error::usage("commit: does not match the step begun");
  s.n += n_new;
  s.pending = 0;
}

void ContiguousKvCache::abort(SeqId seq, int n_new) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) return;
  (void)n_new;
  it->second.pending = 0;
  if (it->second.n == 0) seqs_.erase(it);
}

void ContiguousKvCache::remove(SeqId seq) {
  seqs_.erase(seq);
}

bool ContiguousKvCache::contains(SeqId seq) const {
  return find(seq) != nullptr;
}

std::int64_t ContiguousKvCache::n_past(SeqId seq) const {
  const Seq* s = find(seq);
  return s ? s->n : 0;
}

int ContiguousKvCache::n_rows(SeqId seq) const {
  const Seq* s = find(seq);
  return s ? s->n : 0;
}

std::size_t ContiguousKvCache::bytes_in_use() const {
  std::size_t b = 0;
  for (const auto& [id, s] : seqs_)
    b += static_cast<std::size_t>(s.n) * static_cast<std::size_t>(kv_dim_) * 2 * value_bytes_ *
         static_cast<std::size_t>(n_layer_);
  return b;
}

}  // namespace gearbox::serve
