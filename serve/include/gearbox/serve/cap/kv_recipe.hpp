// KvRecipe: what a composition of CAP policies asks of the KV cache and of RoPE, as plain
// data. Policies write it (cap_policy.hpp); the cache factory (cap/cache_factory.hpp) reads it.
#pragma once

#include <cstdint>
#include <string>

namespace gearbox::serve::cap {

enum class KvEviction {
  kNone,       // every token kept (full attention)
  kStreaming,  // StreamingLLM: `sink` first tokens + `window` most recent
  kH2o,        // heavy hitters by accumulated attention + `recent` most recent, `budget` total
};

enum class KvStorage { kF32, kF16, kInt8, kInt4 };

enum class KvOffload {
  kNone,
  kHost,  // cold blocks copied to host memory outside the budget
  kFile,  // cold blocks written to a temporary file
};

enum class RopeScaling { kNone, kLinear, kNtk, kYarn };

struct KvRecipe {
  // Context limit for caches that keep every token: 0 = the model's trained context (times the
  // RoPE factor when RoPE is scaled).
  std::int64_t ctx_limit = 0;

  KvEviction eviction = KvEviction::kNone;
  int sink = 4;       // streaming
  int window = 1024;  // streaming
  int budget = 1024;  // h2o: rows kept in total
  int recent = 0;     // h2o: most recent rows always kept (0 = budget / 2)
  // Evicting policies: true = positions are slots in the cache (StreamingLLM), false = the
  // token's original index.
  bool cache_positions = true;

  KvStorage storage = KvStorage::kF32;

  KvOffload offload = KvOffload::kNone;
  std::int64_t hot_tokens = 0;  // tokens kept resident before spilling (0 = what the budget holds)

  RopeScaling rope = RopeScaling::kNone;
  double rope_factor = 1.0;        // context extension factor s
  std::int64_t rope_orig_ctx = 0;  // 0 = the model's trained context
  double yarn_beta_fast = 32.0;    // YaRN ramp: dimensions with r > beta_fast keep their frequency
  double yarn_beta_slow = 1.0;     //            dimensions with r < beta_slow are interpolated
  double yarn_mscale = 0.0;        // attention scale; 0 = 0.1 ln(s) + 1 (the paper's)
};

}  // namespace gearbox::serve::cap
