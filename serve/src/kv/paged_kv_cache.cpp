// PagedKvCache: paged rows, eviction by compaction, quantized rows, cold-block offload.
#include "gearbox/serve/kv/paged_kv_cache.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>

#include "gearbox/core/error.hpp"

namespace gearbox::serve::kv {
namespace {

std::size_t ceil_div(std::size_t a, std::size_t b) {
  return (a + b - 1) / b;
}

KvPoolConfig pool_config(const PagedKvConfig& c) {
  if (c.n_layer <= 0 || c.kv_dim <= 0)
    throw Error::usage("KV cache needs layers and a KV width")
        .field("n_layer/kv_dim")
        .found(std::to_string(c.n_layer) + "/" + std::to_string(c.kv_dim));
  return {c.block_tokens, static_cast<std::size_t>(c.n_layer) * 2 * row_bytes(c.format, c.kv_dim),
          c.budget_bytes, c.memory};
}

}  // namespace

PagedKvCache::PagedKvCache(PagedKvConfig config)
    : cfg_(std::move(config)),
      per_layer_(cfg_.eviction == EvictionKind::kH2o),
      row_bytes_(row_bytes(cfg_.format, cfg_.kv_dim)),
      bytes_per_token_(pool_config(cfg_).bytes_per_token),
      pool_(pool_config(cfg_)) {
  if (cfg_.eviction != EvictionKind::kNone && cfg_.offload != OffloadKind::kNone)
    throw Error::usage("offload keeps every token; it cannot be combined with eviction")
        .field("policy");
  if (cfg_.eviction != EvictionKind::kNone && cfg_.cache_positions && !cfg_.rotate)
    throw Error::usage("an evicting cache with cache positions needs a RoPE rotation")
        .field("rotate");
  if (cfg_.eviction == EvictionKind::kStreaming && (cfg_.window < 1 || cfg_.sink < 0))
    throw Error::usage("streaming needs window >= 1 and sink >= 0").field("streaming.window");
  if (cfg_.eviction == EvictionKind::kH2o &&
      (cfg_.budget < 2 || cfg_.recent < 0 || cfg_.recent >= cfg_.budget))
    throw Error::usage("h2o needs budget >= 2 and 0 <= recent < budget").field("h2o.recent");
  if (cfg_.prefix_cache && cfg_.eviction == EvictionKind::kNone &&
      cfg_.offload == OffloadKind::kNone)
    prefix_ = std::make_unique<PrefixBlockCache>(pool_);
}

std::size_t PagedKvCache::reuse_prefix(serve::SeqId seq, std::span<const std::uint64_t> hashes) {
  if (find(seq))
    throw Error::usage("KV sequence already exists").field("seq").found(std::to_string(seq));
  if (!prefix_) return 0;
  std::vector<BlockId> hit;
  for (std::uint64_t h : hashes) {
    const BlockId b = prefix_->find(h);
    if (b < 0) break;
    hit.push_back(b);
  }
  if (hit.empty()) return 0;
  Seq& s = seqs_[seq];
  s.rows.resize(tables());
  for (BlockId b : hit) {
    pool_.retain(b);
    s.blocks.push_back({b, -1});
  }
  // Rows of a non-evicting cache: token i at position i, stored as written.
  const std::size_t n = hit.size() * cfg_.block_tokens;
  for (auto& t : s.rows)
    for (std::size_t i = 0; i < n; ++i) {
      const auto p = static_cast<std::int32_t>(i);
      t.push_back({static_cast<std::int64_t>(i), p, p, 0.0});
    }
  s.past = static_cast<std::int64_t>(n);
  return n;
}

void PagedKvCache::cache_prefix(serve::SeqId seq, std::size_t first,
                                std::span<const std::uint64_t> hashes) {
  if (!prefix_) return;
  const Seq& s = get(seq);
  const std::size_t full = (held_rows(s) - static_cast<std::size_t>(s.pending)) / cfg_.block_tokens;
  for (std::size_t i = 0; i < hashes.size() && first + i < full; ++i) {
    const BlockRef& b = s.blocks[first + i];
    if (b.hot >= 0) prefix_->insert(hashes[i], b.hot);
  }
}

PagedKvCache::~PagedKvCache() {
  if (cold_file_) std::fclose(cold_file_);
}

PagedKvCache::Seq& PagedKvCache::get(serve::SeqId seq) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end())
    throw Error::usage("unknown KV sequence").field("seq").found(std::to_string(seq));
  return it->second;
}

const PagedKvCache::Seq* PagedKvCache::find(serve::SeqId seq) const {
  auto it = seqs_.find(seq);
  return it == seqs_.end() ? nullptr : &it->second;
}

std::size_t PagedKvCache::step_blocks(serve::SeqId seq, std::size_t n_new) const {
  const Seq* s = find(seq);
  const std::size_t rows = s ? held_rows(*s) : 0;
  const std::size_t bt = cfg_.block_tokens;
  std::size_t after = rows + n_new;
  if (cfg_.eviction == EvictionKind::kStreaming)
    after = std::min(after, static_cast<std::size_t>(cfg_.sink + cfg_.window));
  if (cfg_.eviction == EvictionKind::kH2o)
    after = std::min(after, static_cast<std::size_t>(cfg_.budget));
  const std::size_t need = ceil_div(after, bt);
  if (cfg_.offload == OffloadKind::kNone) {
    const std::size_t held = s ? s->blocks.size() : 0;
    return need > held ? need - held : 0;
  }
  // Offload keeps only the step's blocks resident: the new ones and a cold partial last
  // block, less the settled resident blocks it can spill to make room.
  std::size_t step = need - std::min(need, rows / bt);
  std::size_t spillable = 0;
  if (s) {
    for (std::size_t i = 0; i < s->blocks.size(); ++i) {
      if (i < rows / bt) {
        spillable += s->blocks[i].hot >= 0;
      } else if (s->blocks[i].hot >= 0) {
        --step;  // already resident
      }
    }
  }
  return step > spillable ? step - spillable : 0;
}

void PagedKvCache::begin(serve::SeqId seq, int n_new, std::span<std::int32_t> positions) {
  if (n_new <= 0 || positions.size() != static_cast<std::size_t>(n_new))
    throw Error::usage("begin() needs n_new > 0 positions")
        .field("n_new")
        .found(std::to_string(n_new));
  const Seq* existing = find(seq);
  if (existing && existing->pending)
    throw Error::usage("KV step begun twice without commit")
        .field("seq")
        .found(std::to_string(seq));
  const std::size_t rows = existing ? held_rows(*existing) : 0;
  const std::int64_t past = existing ? existing->past : 0;
  const auto un = static_cast<std::size_t>(n_new);
  const std::size_t bt = cfg_.block_tokens;

  // Decide, without changing anything, whether the step fits.
  std::size_t evict = 0;
  if (cfg_.eviction == EvictionKind::kNone) {
    if (past + n_new > cfg_.ctx_limit)
      throw Error::input("sequence exceeds the policy's context limit")
          .field("ctx")
          .expected("<= " + std::to_string(cfg_.ctx_limit) + " tokens")
          .found(std::to_string(past + n_new));
  } else {
    const std::size_t cap = cfg_.eviction == EvictionKind::kStreaming
                                ? static_cast<std::size_t>(cfg_.sink + cfg_.window)
                                : static_cast<std::size_t>(cfg_.budget);
    const std::size_t pinned =
        cfg_.eviction == EvictionKind::kStreaming ? std::min<std::size_t>(rows, cfg_.sink) : 0;
    if (rows + un > cap) evict = rows + un - cap;
    if (evict > rows - pinned)
      throw Error::input("step larger than the evicting cache can hold; prefill in chunks")
          .field("n_new")
          .expected("<= " + std::to_string(cap - pinned))
          .found(std::to_string(n_new));
  }
  const std::size_t after = rows - evict + un;
  const std::size_t held = existing ? existing->blocks.size() : 0;
  const std::size_t need_blocks = ceil_div(after, bt);
  if (cfg_.offload == OffloadKind::kNone) {
    const std::size_t extra = need_blocks > held ? need_blocks - held : 0;
    if (extra > pool_.free_blocks())
      throw Error::input("KV cache budget exhausted")
          .field("kv_budget")
          .expected(std::to_string(extra) + " free blocks")
          .found(std::to_string(pool_.free_blocks()) + " free of " +
                 std::to_string(pool_.capacity_blocks()));
  } else {
    // The step's own blocks (from the one holding row `rows`) must all be resident at once.
    const std::size_t step_blocks = need_blocks - rows / bt;
    std::size_t hot_cap = pool_.capacity_blocks();
    if (cfg_.hot_tokens > 0)
      hot_cap = std::min(hot_cap, ceil_div(static_cast<std::size_t>(cfg_.hot_tokens), bt));
    if (step_blocks > hot_cap)
      throw Error::input("step larger than the resident KV budget; prefill in chunks")
          .field("n_new")
          .expected("<= " + std::to_string((hot_cap - 1) * bt) + " tokens")
          .found(std::to_string(n_new));
  }

  Seq& s = seqs_[seq];
  s.rows.resize(tables());
  if (evict) {
    Victims victims;
    for (const auto& t : s.rows) victims.push_back(choose_victims(t, evict, un));
    compact(s, victims);
  }
  ensure_blocks(s, after);
  // The step writes into its blocks from the one holding row `held`: a fork may have left
  // that (partially filled) block cold; bring it back.
  if (cfg_.offload != OffloadKind::kNone)
    for (std::size_t i = held_rows(s) / bt; i < s.blocks.size(); ++i) make_resident(s, i);
  const bool slots = cfg_.eviction != EvictionKind::kNone && cfg_.cache_positions;
  const std::size_t base = held_rows(s);
  for (int i = 0; i < n_new; ++i) {
    const auto pos =
        static_cast<std::int32_t>(slots ? static_cast<std::int64_t>(base) + i : past + i);
    positions[static_cast<std::size_t>(i)] = pos;
    for (auto& t : s.rows) t.push_back({past + i, pos, pos, 0.0});
  }
  s.pending = n_new;
}

std::vector<std::size_t> PagedKvCache::choose_victims(const std::vector<Row>& rows,
                                                      std::size_t evict, std::size_t n_new) const {
  std::vector<std::size_t> v;
  if (cfg_.eviction == EvictionKind::kStreaming) {
    const std::size_t first = std::min<std::size_t>(rows.size(), cfg_.sink);
    for (std::size_t i = 0; i < evict; ++i) v.push_back(first + i);
    return v;
  }
  // H2O: the `recent` most recent rows after this step (the n_new arriving ones first) are
  // kept; the older rows compete on accumulated attention (lowest evicted first, older first
  // on ties); if that is not enough, the oldest recent rows go. Each layer's table competes
  // on its own layer's attention.
  const std::size_t n = rows.size();
  const std::size_t recent_old = static_cast<std::size_t>(cfg_.recent) > n_new
                                     ? static_cast<std::size_t>(cfg_.recent) - n_new
                                     : 0;
  const std::size_t recent = std::min(n, recent_old);
  std::vector<std::size_t> cand(n - recent);
  std::iota(cand.begin(), cand.end(), 0);
  std::stable_sort(cand.begin(), cand.end(),
                   [&](std::size_t a, std::size_t b) { return rows[a].score < rows[b].score; });
  for (std::size_t i = 0; i < cand.size() && v.size() < evict; ++i) v.push_back(cand[i]);
  for (std::size_t i = n - recent; v.size() < evict; ++i) v.push_back(i);
  std::sort(v.begin(), v.end());
  return v;
}

std::byte* PagedKvCache::row_ptr(const Seq& s, std::size_t row, int layer, bool value) {
  const std::size_t bt = cfg_.block_tokens;
  const BlockRef& b = s.blocks[row / bt];
  return pool_.block_data(b.hot) +
         ((static_cast<std::size_t>(layer) * 2 + (value ? 1 : 0)) * bt + row % bt) * row_bytes_;
}

void PagedKvCache::compact(Seq& s, const Victims& victims) {
  for (std::size_t t = 0; t < s.rows.size(); ++t) {
    // The layers whose rows this table describes.
    const int l0 = per_layer_ ? static_cast<int>(t) : 0;
    const int l1 = per_layer_ ? l0 + 1 : cfg_.n_layer;
    std::vector<Row>& rows = s.rows[t];
    const std::vector<std::size_t>& gone = victims[t];
    std::vector<Row> kept;
    kept.reserve(rows.size() - gone.size());
    std::size_t vi = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (vi < gone.size() && gone[vi] == i) {
        ++vi;
        continue;
      }
      const std::size_t j = kept.size();
      if (j != i)
        for (int l = l0; l < l1; ++l)
          for (bool value : {false, true})
            std::memcpy(row_ptr(s, j, l, value), row_ptr(s, i, l, value), row_bytes_);
      kept.push_back(rows[i]);
    }
    rows = std::move(kept);
    if (!cfg_.cache_positions) continue;
    for (std::size_t j = 0; j < rows.size(); ++j) {
      Row& r = rows[j];
      r.pos = static_cast<std::int32_t>(j);
      if (cfg_.format != KvRowFormat::kF32 || r.pos == r.stored) continue;
      for (int l = l0; l < l1; ++l) {
        auto* k = reinterpret_cast<float*>(row_ptr(s, j, l, false));
        cfg_.rotate(k, cfg_.n_head_kv, r.pos - r.stored);
      }
      r.stored = r.pos;
    }
  }
  const std::size_t keep_blocks = ceil_div(held_rows(s), cfg_.block_tokens);
  while (s.blocks.size() > keep_blocks) {
    pool_.release(s.blocks.back().hot);
    s.blocks.pop_back();
  }
}

void PagedKvCache::ensure_blocks(Seq& s, std::size_t rows) {
  const std::size_t bt = cfg_.block_tokens;
  std::size_t hot_cap = pool_.capacity_blocks();
  if (cfg_.offload != OffloadKind::kNone && cfg_.hot_tokens > 0)
    hot_cap = std::min(hot_cap, ceil_div(static_cast<std::size_t>(cfg_.hot_tokens), bt));
  while (s.blocks.size() * bt < rows) {
    if (cfg_.offload != OffloadKind::kNone) {
      std::size_t hot = 0;
      for (const auto& b : s.blocks) hot += b.hot >= 0;
      if (pool_.free_blocks() == 0 || hot >= hot_cap) spill_oldest(s);
    }
    s.blocks.push_back({pool_.allocate(), -1});
  }
}

void PagedKvCache::spill_oldest(Seq& s) {
  // Only blocks wholly before a sequence's pending rows (and, for `s`, before the rows this
  // step adds: ensure_blocks runs before they are appended) may leave the pool; the stepping
  // sequence's own go first, then other sequences' (a fork's parent may hold the pool).
  auto try_spill = [&](Seq& o) {
    const std::size_t settled =
        (held_rows(o) - static_cast<std::size_t>(o.pending)) / cfg_.block_tokens;
    for (std::size_t i = 0; i < o.blocks.size() && i < settled; ++i) {
      BlockRef& b = o.blocks[i];
      if (b.hot < 0) continue;
      b.cold = store_cold(pool_.block_data(b.hot));
      pool_.release(b.hot);
      b.hot = -1;
      return true;
    }
    return false;
  };
  if (try_spill(s)) return;
  for (auto& [id, o] : seqs_)
    if (&o != &s && try_spill(o)) return;
  throw Error::runtime("KV offload found no resident block to spill").field("kv_budget");
}

void PagedKvCache::make_resident(Seq& s, std::size_t i) {
  if (s.blocks[i].hot >= 0) return;
  if (pool_.free_blocks() == 0) spill_oldest(s);  // settled blocks only: never block i
  const BlockId nb = pool_.allocate();
  load_cold_block(s.blocks[i].cold, pool_.block_data(nb));
  free_cold(s.blocks[i].cold);
  s.blocks[i] = {nb, -1};
}

std::int64_t PagedKvCache::store_cold(const std::byte* block) {
  const std::size_t bb = pool_.block_bytes();
  std::int64_t slot;
  if (!cold_free_.empty()) {
    slot = cold_free_.back();
    cold_free_.pop_back();
  } else {
    slot = cold_slots_++;
  }
  if (cfg_.offload == OffloadKind::kHost) {
    if (cold_host_.size() <= static_cast<std::size_t>(slot)) cold_host_.resize(slot + 1);
    cold_host_[slot].assign(block, block + bb);
    return slot;
  }
  if (!cold_file_ && !(cold_file_ = std::tmpfile()))
    throw Error::runtime("cannot create the KV offload file").field("offload");
  if (std::fseek(cold_file_, static_cast<long>(slot * static_cast<std::int64_t>(bb)), SEEK_SET) ||
      std::fwrite(block, 1, bb, cold_file_) != bb)
    throw Error::runtime("cannot write the KV offload file").field("offload");
  return slot;
}

void PagedKvCache::load_cold(std::int64_t cold, int layer, std::byte* out) {
  const std::size_t seg = 2 * cfg_.block_tokens * row_bytes_;
  const std::size_t off = static_cast<std::size_t>(layer) * seg;
  ++reloads_;
  if (cfg_.offload == OffloadKind::kHost) {
    std::memcpy(out, cold_host_[cold].data() + off, seg);
    return;
  }
  const auto at =
      cold * static_cast<std::int64_t>(pool_.block_bytes()) + static_cast<std::int64_t>(off);
  if (std::fseek(cold_file_, static_cast<long>(at), SEEK_SET) ||
      std::fread(out, 1, seg, cold_file_) != seg)
    throw Error::runtime("cannot read the KV offload file").field("offload");
}

void PagedKvCache::load_cold_block(std::int64_t cold, std::byte* out) {
  const std::size_t bb = pool_.block_bytes();
  if (cfg_.offload == OffloadKind::kHost) {
    std::memcpy(out, cold_host_[cold].data(), bb);
    return;
  }
  if (std::fseek(cold_file_, static_cast<long>(cold * static_cast<std::int64_t>(bb)), SEEK_SET) ||
      std::fread(out, 1, bb, cold_file_) != bb)
    throw Error::runtime("cannot read the KV offload file").field("offload");
}

void PagedKvCache::fork(serve::SeqId parent, serve::SeqId child) {
  const Seq* p = find(parent);
  if (!p)
    throw Error::usage("fork of an unknown sequence").field("seq").found(std::to_string(parent));
  if (p->pending != 0)
    throw Error::usage("fork during a step").field("seq").found(std::to_string(parent));
  if (find(child))
    throw Error::usage("fork into an existing sequence").field("seq").found(std::to_string(child));
  Seq s;
  s.rows = p->rows;
  s.past = p->past;
  const std::size_t bb = pool_.block_bytes();
  std::size_t hot_cap = pool_.capacity_blocks();
  if (cfg_.offload != OffloadKind::kNone && cfg_.hot_tokens > 0)
    hot_cap =
        std::min(hot_cap, ceil_div(static_cast<std::size_t>(cfg_.hot_tokens), cfg_.block_tokens));
  std::size_t hot = 0;
  std::vector<std::byte> buf;
  try {
    for (const auto& b : p->blocks) {
      const bool resident_room = pool_.free_blocks() > 0 && hot < hot_cap;
      if (b.hot >= 0 && resident_room) {
        const BlockId nb = pool_.allocate();
        s.blocks.push_back({nb, -1});
        std::memcpy(pool_.block_data(nb), pool_.block_data(b.hot), bb);
        ++hot;
        continue;
      }
      if (cfg_.offload == OffloadKind::kNone)
        throw Error::input("KV cache budget exhausted by a fork")
            .field("kv_budget")
            .expected(std::to_string(p->blocks.size()) + " free blocks")
            .found(std::to_string(pool_.free_blocks()) + " free of " +
                   std::to_string(pool_.capacity_blocks()));
      const std::byte* src = nullptr;
      if (b.hot >= 0) {
        src = pool_.block_data(b.hot);
      } else {
        buf.resize(bb);
        load_cold_block(b.cold, buf.data());
        src = buf.data();
      }
      s.blocks.push_back({-1, -1});
      s.blocks.back().cold = store_cold(src);
    }
  } catch (...) {
    for (const auto& b : s.blocks) {
      if (b.hot >= 0) pool_.release(b.hot);
      if (b.cold >= 0) free_cold(b.cold);
    }
    throw;
  }
  seqs_.emplace(child, std::move(s));
}

void PagedKvCache::free_cold(std::int64_t cold) {
  if (cfg_.offload == OffloadKind::kHost) {
    cold_host_[cold].clear();
    cold_host_[cold].shrink_to_fit();
  }
  cold_free_.push_back(cold);
}

void PagedKvCache::write(int layer, serve::SeqId seq, int n_new, const float* k, const float* v) {
  Seq& s = get(seq);
  if (n_new != s.pending || layer < 0 || layer >= cfg_.n_layer)
    throw Error::usage("KV write does not match the step begun")
        .field("n_new")
        .expected(std::to_string(s.pending))
        .found(std::to_string(n_new));
  const std::size_t first = held_rows(s) - static_cast<std::size_t>(n_new);
  const auto d = static_cast<std::size_t>(cfg_.kv_dim);
  for (std::size_t i = 0; i < static_cast<std::size_t>(n_new); ++i) {
    encode_row(cfg_.format, k + i * d, cfg_.kv_dim, row_ptr(s, first + i, layer, false));
    encode_row(cfg_.format, v + i * d, cfg_.kv_dim, row_ptr(s, first + i, layer, true));
  }
}

KvView PagedKvCache::read(int layer, serve::SeqId seq) {
  Seq& s = get(seq);
  if (layer < 0 || layer >= cfg_.n_layer)
    throw Error::usage("KV read of a layer the cache does not have")
        .field("layer")
        .found(std::to_string(layer));
  const std::vector<Row>& rows = s.rows[table(layer)];
  const std::size_t n = rows.size();
  const std::size_t bt = cfg_.block_tokens;
  const auto d = static_cast<std::size_t>(cfg_.kv_dim);
  KvView view;
  // f32 rows, and f16 rows whose keys sit at their positions, are read in place.
  const bool f16 = cfg_.format == KvRowFormat::kF16;
  bool direct = cfg_.format == KvRowFormat::kF32 || f16;
  for (const auto& b : s.blocks) direct = direct && b.hot >= 0;
  if (f16)
    for (const Row& r : rows) direct = direct && r.pos == r.stored;
  if (direct) {
    view.elem = f16 ? KvElem::kF16 : KvElem::kF32;
    for (std::size_t b = 0; b * bt < n; ++b) {
      KvSpan span;
      const std::byte* k = row_ptr(s, b * bt, layer, false);
      const std::byte* v = row_ptr(s, b * bt, layer, true);
      if (f16) {
        span.k16 = reinterpret_cast<const std::uint16_t*>(k);
        span.v16 = reinterpret_cast<const std::uint16_t*>(v);
      } else {
        span.k = reinterpret_cast<const float*>(k);
        span.v = reinterpret_cast<const float*>(v);
      }
      span.n = static_cast<int>(std::min(bt, n - b * bt));
      span.k_stride = span.v_stride = d;
      view.spans.push_back(span);
    }
    return view;
  }
  scratch_.resize(2 * n * d);
  float* ks = scratch_.data();
  float* vs = scratch_.data() + n * d;
  cold_buf_.resize(2 * bt * row_bytes_);
  for (std::size_t b = 0; b * bt < n; ++b) {
    const BlockRef& ref = s.blocks[b];
    const std::byte* seg;
    if (ref.hot >= 0) {
      seg = row_ptr(s, b * bt, layer, false);
    } else {
      load_cold(ref.cold, layer, cold_buf_.data());
      seg = cold_buf_.data();
    }
    for (std::size_t r = b * bt; r < std::min(n, (b + 1) * bt); ++r) {
      const std::size_t slot = r % bt;
      decode_row(cfg_.format, seg + slot * row_bytes_, cfg_.kv_dim, ks + r * d);
      decode_row(cfg_.format, seg + (bt + slot) * row_bytes_, cfg_.kv_dim, vs + r * d);
      const Row& row = rows[r];
      if (row.pos != row.stored) cfg_.rotate(ks + r * d, cfg_.n_head_kv, row.pos - row.stored);
    }
  }
  view.spans.push_back({ks, vs, static_cast<int>(n), d, d});
  return view;
}

void PagedKvCache::observe_attention(int layer, serve::SeqId seq, std::span<const float> weights) {
  Seq& s = get(seq);
  if (layer < 0 || layer >= cfg_.n_layer || weights.size() != held_rows(s))
    throw Error::usage("attention weights do not match the rows read")
        .field("weights")
        .expected(std::to_string(held_rows(s)) + " weights of a layer below " +
                  std::to_string(cfg_.n_layer))
        .found(std::to_string(weights.size()) + " at layer " + std::to_string(layer));
  std::vector<Row>& rows = s.rows[table(layer)];
  for (std::size_t i = 0; i < weights.size(); ++i) rows[i].score += weights[i];
}

void PagedKvCache::commit(serve::SeqId seq, int n_new) {
  Seq& s = get(seq);
  if (n_new != s.pending)
    throw Error::usage("KV commit does not match the step begun")
        .field("n_new")
        .expected(std::to_string(s.pending))
        .found(std::to_string(n_new));
  s.past += n_new;
  s.pending = 0;
}

void PagedKvCache::abort(serve::SeqId seq, int n_new) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) return;
  Seq& s = it->second;
  (void)n_new;
  for (auto& t : s.rows) t.resize(t.size() - static_cast<std::size_t>(s.pending));
  s.pending = 0;
  const std::size_t keep = ceil_div(held_rows(s), cfg_.block_tokens);
  while (s.blocks.size() > keep) {
    if (s.blocks.back().hot >= 0) pool_.release(s.blocks.back().hot);
    if (s.blocks.back().cold >= 0) free_cold(s.blocks.back().cold);
    s.blocks.pop_back();
  }
  if (held_rows(s) == 0 && s.past == 0) seqs_.erase(it);
}

void PagedKvCache::remove(serve::SeqId seq) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) return;
  for (const auto& b : it->second.blocks) {
    if (b.hot >= 0) pool_.release(b.hot);
    if (b.cold >= 0) free_cold(b.cold);
  }
  seqs_.erase(it);
}

bool PagedKvCache::contains(serve::SeqId seq) const {
  return find(seq) != nullptr;
}

std::int64_t PagedKvCache::n_past(serve::SeqId seq) const {
  const Seq* s = find(seq);
  return s ? s->past : 0;
}

int PagedKvCache::n_rows(serve::SeqId seq) const {
  const Seq* s = find(seq);
  return s ? static_cast<int>(held_rows(*s)) - s->pending : 0;
}

std::size_t PagedKvCache::bytes_in_use() const {
  return pool_.stats().bytes_in_use;
}

std::size_t PagedKvCache::cold_bytes() const {
  return static_cast<std::size_t>(cold_slots_ - static_cast<std::int64_t>(cold_free_.size())) *
         pool_.block_bytes();
}

std::vector<std::int64_t> PagedKvCache::row_tokens(serve::SeqId seq, int layer) const {
  std::vector<std::int64_t> out;
  if (const Seq* s = find(seq); s && layer >= 0 && layer < cfg_.n_layer)
    for (const auto& r : s->rows[table(layer)]) out.push_back(r.token);
  return out;
}

std::vector<std::int32_t> PagedKvCache::row_positions(serve::SeqId seq, int layer) const {
  std::vector<std::int32_t> out;
  if (const Seq* s = find(seq); s && layer >= 0 && layer < cfg_.n_layer)
    for (const auto& r : s->rows[table(layer)]) out.push_back(r.pos);
  return out;
}

std::vector<double> PagedKvCache::row_scores(serve::SeqId seq, int layer) const {
  std::vector<double> out;
  if (const Seq* s = find(seq); s && layer >= 0 && layer < cfg_.n_layer)
    for (const auto& r : s->rows[table(layer)]) out.push_back(r.score);
  return out;
}

}  // namespace gearbox::serve::kv
