// From a policy spelling to what a request runs with: the KV cache that implements the
// composed policies (a PagedKvCache) and the RoPE spec to pass to Model::prefill/decode. This
// is where a request's policy selects its cache: `--kv` on generate, `--policy` in cap-eval
// and the server's `cap` field all come through make_cap_cache().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "gearbox/serve/cap/cap_policy.hpp"
#include "gearbox/serve/kv/paged_kv_cache.hpp"
#include "gearbox/serve/model/config.hpp"
#include "gearbox/serve/model/rope.hpp"
#include "gearbox/serve/model/sliding_window_kv_cache.hpp"

namespace gearbox::serve::cap {

struct CapCacheOptions {
  std::size_t budget_bytes = std::size_t{2} << 30;  // resident KV budget (the pool)
  std::size_t block_tokens = 16;
  std::shared_ptr<kv::KvMemory> memory = nullptr;  // optional budget shared with other caches
  bool prefix_cache = false;  // automatic prefix caching where the policy allows it
};

struct CapCache {
  std::string spelling;  // canonical
  std::string goals;     // "C+P" ...
  KvRecipe recipe;
  std::unique_ptr<kv::PagedKvCache> cache;
  std::shared_ptr<const RopeSpec> rope;  // pass rope.get() to prefill/decode
  std::int64_t ctx_limit = 0;            // longest sequence served (INT64_MAX: unbounded)
  int max_step = 0;                      // the largest step begin() accepts: chunk prefills by it
  // Models with sliding-window layers (Gemma 3): `cache` holds only the global layers (the
  // policy applies to them), and this front keeps each local layer's window in a ring.
  std::unique_ptr<SlidingWindowKvCache> windowed;

  // The cache the model runs on: the sliding-window front when there is one, else `cache`.
  KvCache& kv() { return windowed ? static_cast<KvCache&>(*windowed) : *cache; }
  const KvCache& kv() const { return windowed ? static_cast<const KvCache&>(*windowed) : *cache; }
};

// Builds the cache and RoPE spec for `plan` on a model with `cfg` and unscaled `model_rope`.
CapCache make_cap_cache(const CapPlan& plan, const ModelConfig& cfg, const RopeSpec& model_rope,
                        const CapCacheOptions& opt = {});

// As above from a spelling (parsed with plan_cap; "" = full). Throws Error::usage on a bad
// spelling.
CapCache make_cap_cache(std::string_view spelling, const ModelConfig& cfg,
                        const RopeSpec& model_rope, const CapCacheOptions& opt = {});

// The spelling of `--kv KV --rope-scaling R`: KV, plus "+rope:R" when R is not empty (R uses
// the rope policy's knobs, e.g. "yarn,factor=4").
std::string cap_spelling(std::string_view kv, std::string_view rope_scaling);

}  // namespace gearbox::serve::cap
