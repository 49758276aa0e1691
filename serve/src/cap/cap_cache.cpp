// KvRecipe -> PagedKvConfig and the (possibly scaled) RoPE spec.
#include "gearbox/serve/cap/cap_cache.hpp"

#include <algorithm>
#include <limits>

#include "gearbox/serve/cap/rope_scaling.hpp"

namespace gearbox::serve::cap {
namespace {

kv::KvRowFormat format_of(KvStorage s) {
  switch (s) {
    case KvStorage::kF32:
      return kv::KvRowFormat::kF32;
    case KvStorage::kF16:
      return kv::KvRowFormat::kF16;
    case KvStorage::kInt8:
      return kv::KvRowFormat::kInt8;
    case KvStorage::kInt4:
      return kv::KvRowFormat::kInt4;
  }
  return kv::KvRowFormat::kF32;
}

}  // namespace

CapCache make_cap_cache(const CapPlan& plan, const ModelConfig& cfg, const RopeSpec& model_rope,
                        const CapCacheOptions& opt) {
  const KvRecipe& r = plan.recipe;
  CapCache out;
  out.spelling = plan.spelling;
  out.goals = plan.goals();
  out.recipe = r;
  auto rope = std::make_shared<const RopeSpec>(scaled_rope(model_rope, r, cfg.n_ctx_train));
  out.rope = rope;
  out.ctx_limit = context_limit(r, cfg.n_ctx_train);

  kv::PagedKvConfig c;
  // With sliding-window layers the paged cache (and the policy) serves the global layers only.
  c.n_layer =
      cfg.sliding_window > 0 ? SlidingWindowKvCache::global_config(cfg).n_layer : cfg.n_layer;
  c.kv_dim = cfg.kv_dim();
  c.n_head_kv = cfg.n_head_kv;
  c.block_tokens = opt.block_tokens;
  c.budget_bytes = opt.budget_bytes;
  c.memory = opt.memory;
  c.prefix_cache = opt.prefix_cache;
  c.format = format_of(r.storage);
  c.ctx_limit = out.ctx_limit;
  c.eviction = r.eviction == KvEviction::kStreaming ? kv::EvictionKind::kStreaming
               : r.eviction == KvEviction::kH2o     ? kv::EvictionKind::kH2o
                                                    : kv::EvictionKind::kNone;
  c.sink = r.sink;
  c.window = r.window;
  c.budget = r.budget;
  c.recent = r.recent > 0 ? r.recent : r.budget / 2;
  c.cache_positions = r.cache_positions;
  c.offload = r.offload == KvOffload::kFile   ? kv::OffloadKind::kFile
              : r.offload == KvOffload::kHost ? kv::OffloadKind::kHost
                                              : kv::OffloadKind::kNone;
  c.hot_tokens = r.hot_tokens;
  c.rotate = [rope](float* k, int n_heads, std::int64_t delta) {
    apply_rope(*rope, k, n_heads, delta);
  };
  out.cache = std::make_unique<kv::PagedKvCache>(std::move(c));

  const auto bt = static_cast<std::int64_t>(opt.block_tokens);
  std::int64_t step = std::numeric_limits<int>::max();
  if (r.eviction == KvEviction::kStreaming) step = r.window;
  if (r.eviction == KvEviction::kH2o) step = r.budget;
  if (r.offload != KvOffload::kNone) {
    std::int64_t hot = static_cast<std::int64_t>(out.cache->pool().capacity_blocks());
    if (r.hot_tokens > 0) hot = std::min(hot, (r.hot_tokens + bt - 1) / bt);
    step = std::max<std::int64_t>(1, (hot - 1) * bt);
  }
  out.max_step = static_cast<int>(step);
  if (cfg.sliding_window > 0) {
    // Local layers ring sliding_window - 1 + max_step rows: bound the step by the window.
    out.max_step = std::min(out.max_step, std::max(cfg.sliding_window, 64));
    out.windowed = std::make_unique<SlidingWindowKvCache>(cfg, *out.cache, out.max_step);
  }
  return out;
}

CapCache make_cap_cache(std::string_view spelling, const ModelConfig& cfg,
                        const RopeSpec& model_rope, const CapCacheOptions& opt) {
  return make_cap_cache(plan_cap(spelling), cfg, model_rope, opt);
}

std::string cap_spelling(std::string_view kv, std::string_view rope_scaling) {
  std::string s(kv.empty() ? "full" : kv);
  if (!rope_scaling.empty()) s += "+rope:" + std::string(rope_scaling);
  return s;
}

}  // namespace gearbox::serve::cap
