// Multi-head attention of one sequence's new tokens over its cached keys/values (GQA: query
// head h reads KV head h / (n_head / n_head_kv)). Causal: with n_q new tokens written last
// into the view, new token i attends to rows 0 .. n_rows - n_q + i (the last `window` of them
// when AttentionShape::window > 0).
#pragma once

#include <span>

#include "gearbox/serve/model/kv_cache.hpp"

namespace gearbox::serve {

struct AttentionShape {
  int n_head = 0, n_head_kv = 0, head_dim = 0;
  float scale = 0;  // usually 1/sqrt(head_dim)
  // Round the softmax weights to fp16 before weighting V, as llama.cpp's default (f16 KV
  // cache, no flash attention) does; off = float throughout.
  bool f16_weights = false;
  // > 0: sliding-window attention, each new token sees only the last `window` rows up to and
  // including its own (llama.cpp's standard SWA mask: key visible iff pos_q - pos_k < window).
  int window = 0;
  // > 0: scores soft-capped before the softmax, s -> softcap * tanh(s / softcap) (Gemma 2).
  float softcap = 0;
};

// q: n_q x (n_head*head_dim); out: n_q x (n_head*head_dim). When row_weights is non-null it
// receives, per view row, the softmax weights summed over heads and queries (n_rows values).
// Multithreaded over heads and queries.
void attention(const AttentionShape& s, const float* q, int n_q, const KvView& kv, float* out,
               float* row_weights = nullptr);
// One sequence's part of a batched attention call.
struct AttentionTask {
  const float* q = nullptr;  // n_q x (n_head*head_dim)
  int n_q = 0;
  const KvView* kv = nullptr;
  float* out = nullptr;  // n_q x (n_head*head_dim)
};
// attention() (without row weights) of every task, in one parallel region whose threads take
// whole tasks: a decode batch of many sequences pays one fork/join per layer instead of one
// per sequence. Results equal attention() called task by task.
void attention_many(const AttentionShape& s, std::span<const AttentionTask> tasks);
// Plain reference of the same computation (single thread, double accumulation).
void attention_reference(const AttentionShape& s, const float* q, int n_q, const KvView& kv,
                         float* out, float* row_weights = nullptr);

}  // namespace gearbox::serve
