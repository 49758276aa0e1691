#include "gearbox/serve/model/sliding_window_kv_cache.hpp"

#include <algorithm>
#include <cstring>

#include "gearbox/core/error.hpp"

namespace gearbox::serve {

ModelConfig SlidingWindowKvCache::global_config(const ModelConfig& cfg) {
  ModelConfig g = cfg;
  g.n_layer = 0;
  for (int l = 0; l < cfg.n_layer; ++l) g.n_layer += !cfg.is_local_layer(l);
  g.sliding_window = 0;
  return g;
}

SlidingWindowKvCache::SlidingWindowKvCache(const ModelConfig& cfg, std::unique_ptr<KvCache> global,
                                           int max_step)
    : SlidingWindowKvCache(cfg, global ? *global : throw Error::usage("no global cache"),
                           max_step) {
  owned_ = std::move(global);
}

SlidingWindowKvCache::SlidingWindowKvCache(const ModelConfig& cfg, KvCache& global, int max_step)
    : global_(&global), kv_dim_(cfg.kv_dim()), max_step_(max_step) {
  if (cfg.sliding_window <= 0)
    throw Error::usage("sliding-window cache for a model without local layers");
  if (max_step < 1) throw Error::usage("sliding-window cache: max_step must be >= 1");
  ring_ = cfg.sliding_window - 1 + max_step;
  int n_global = 0;
  for (int l = 0; l < cfg.n_layer; ++l) {
    const bool local = cfg.is_local_layer(l);
    local_.push_back(local);
    slot_.push_back(local ? n_local_++ : n_global++);
  }
}

void SlidingWindowKvCache::fork_local(SeqId parent, SeqId child) {
  const Seq& p = get(parent);
  if (p.pending != 0) throw Error::usage("fork: the parent has a step in progress");
  if (seqs_.count(child)) throw Error::usage("fork: child exists").found(std::to_string(child));
  seqs_.emplace(child, p);
}

SlidingWindowKvCache::Seq& SlidingWindowKvCache::get(SeqId seq) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) throw Error::usage("unknown sequence id").found(std::to_string(seq));
  return it->second;
}

void SlidingWindowKvCache::begin(SeqId seq, int n_new, std::span<std::int32_t> positions) {
  if (n_new <= 0 || positions.size() != static_cast<std::size_t>(n_new))
    throw Error::usage("begin: bad token count").found(std::to_string(n_new));
  if (n_new > max_step_)
    throw Error::input("step larger than the sliding-window cache takes")
        .field("tokens")
        .expected("at most " + std::to_string(max_step_) + " per step (chunk the prefill)")
        .found(std::to_string(n_new));
  auto [it, created] = seqs_.try_emplace(seq);
  Seq& s = it->second;
  if (s.pending != 0) throw Error::usage("begin: a step is already in progress for this sequence");
  try {
    global_->begin(seq, n_new, positions);
  } catch (...) {
    if (created) seqs_.erase(it);
    throw;
  }
  // Rings grow (geometrically) with the sequence up to ring_ rows: row i sits at i % ring_.
  const std::size_t d = static_cast<std::size_t>(kv_dim_);
  const std::size_t need = static_cast<std::size_t>(std::min<std::int64_t>(ring_, s.n + n_new));
  if (s.k.empty()) {
    s.k.resize(static_cast<std::size_t>(n_local_));
    s.v.resize(static_cast<std::size_t>(n_local_));
  }
  if (n_local_ > 0 && s.k[0].size() < need * d) {
    const std::size_t rows = std::min<std::size_t>(static_cast<std::size_t>(ring_),
                                                   std::max(need, 2 * s.k[0].size() / d));
    for (int l = 0; l < n_local_; ++l) {
      s.k[static_cast<std::size_t>(l)].resize(rows * d);
      s.v[static_cast<std::size_t>(l)].resize(rows * d);
    }
  }
  s.pending = n_new;
}

void SlidingWindowKvCache::write(int layer, SeqId seq, int n_new, const float* k, const float* v) {
  if (layer < 0 || layer >= static_cast<int>(local_.size()))
    throw Error::usage("layer out of range").found(std::to_string(layer));
  const int slot = slot_[static_cast<std::size_t>(layer)];
  if (!local_[static_cast<std::size_t>(layer)]) return global_->write(slot, seq, n_new, k, v);
  Seq& s = get(seq);
  if (n_new != s.pending) throw Error::usage("write: row count differs from begin()");
  const std::size_t d = static_cast<std::size_t>(kv_dim_);
  auto& kr = s.k[static_cast<std::size_t>(slot)];
  auto& vr = s.v[static_cast<std::size_t>(slot)];
  for (int i = 0; i < n_new; ++i) {
    const std::size_t at = static_cast<std::size_t>((s.n + i) % ring_) * d;
    std::memcpy(kr.data() + at, k + static_cast<std::size_t>(i) * d, d * sizeof(float));
    std::memcpy(vr.data() + at, v + static_cast<std::size_t>(i) * d, d * sizeof(float));
  }
}

KvView SlidingWindowKvCache::read(int layer, SeqId seq) {
  if (layer < 0 || layer >= static_cast<int>(local_.size()))
    throw Error::usage("layer out of range").found(std::to_string(layer));
  const int slot = slot_[static_cast<std::size_t>(layer)];
  if (!local_[static_cast<std::size_t>(layer)]) return global_->read(slot, seq);
  Seq& s = get(seq);
  // The window - 1 rows before the step (as many as exist) and the step's rows, in order.
  const std::int64_t end = s.n + s.pending;
  const std::int64_t first = std::max<std::int64_t>(0, s.n - (ring_ - max_step_));
  const std::size_t d = static_cast<std::size_t>(kv_dim_);
  const float* kb = s.k[static_cast<std::size_t>(slot)].data();
  const float* vb = s.v[static_cast<std::size_t>(slot)].data();
  KvView view;
  for (std::int64_t i = first; i < end;) {
    const std::int64_t at = i % ring_;
    const std::int64_t n = std::min(end - i, ring_ - at);  // up to the ring's end
    view.spans.push_back({kb + static_cast<std::size_t>(at) * d,
                          vb + static_cast<std::size_t>(at) * d, static_cast<int>(n), d, d});
    i += n;
  }
  return view;
}

void SlidingWindowKvCache::observe_attention(int layer, SeqId seq, std::span<const float> w) {
  if (layer >= 0 && layer < static_cast<int>(local_.size()) &&
      !local_[static_cast<std::size_t>(layer)])
    global_->observe_attention(slot_[static_cast<std::size_t>(layer)], seq, w);
}

void SlidingWindowKvCache::commit(SeqId seq, int n_new) {
  Seq& s = get(seq);
  global_->commit(seq, n_new);
  s.n += n_new;
  s.pending = 0;
}

void SlidingWindowKvCache::abort(SeqId seq, int n_new) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) return;
  global_->abort(seq, n_new);
  it->second.pending = 0;
  if (it->second.n == 0 && !global_->contains(seq)) seqs_.erase(it);
}

void SlidingWindowKvCache::remove(SeqId seq) {
  seqs_.erase(seq);
  global_->remove(seq);
}

bool SlidingWindowKvCache::contains(SeqId seq) const {
  return seqs_.count(seq) != 0;
}

std::int64_t SlidingWindowKvCache::n_past(SeqId seq) const {
  auto it = seqs_.find(seq);
  return it == seqs_.end() ? 0 : it->second.n;
}

int SlidingWindowKvCache::n_rows(SeqId seq) const {
  return global_->n_rows(seq);
}

std::size_t SlidingWindowKvCache::bytes_in_use() const {
  std::size_t b = global_->bytes_in_use();
  for (const auto& [id, s] : seqs_)
    for (std::size_t i = 0; i < s.k.size(); ++i)
      b += (s.k[i].size() + s.v[i].size()) * sizeof(float);
  return b;
}

}  // namespace gearbox::serve
