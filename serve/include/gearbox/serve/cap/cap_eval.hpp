// The CAP evaluation: for every policy and length, on the user's model, measures
//   A: passkey retrieval accuracy (when asked: instruct models) and fidelity to full attention
//      on the same text (perplexity, KL, top-1 agreement over the last positions);
//   P: prefill and decode tok/s, time to first token, time per output token;
//   C: KV bytes held, and whether the policy served the length at all.
// A cell of length L prefills L - decode_tokens tokens of text (in chunks the cache accepts)
// and then decodes decode_tokens tokens greedily, so L is the sequence length reached. TTFT is
// the prefill time (the first token comes from its logits); TPOT the mean decode step.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "gearbox/core/output.hpp"
#include "gearbox/serve/model/model.hpp"

namespace gearbox::serve::cap {

struct CapEvalOptions {
  std::vector<int> lengths;
  std::vector<std::string> policies;  // spellings
  bool passkey = false;               // run passkey trials (instruct models)
  int trials = 10;                    // passkey trials per cell, depths spread evenly
  int fidelity_tokens = 64;           // last positions compared with full attention
  int decode_tokens = 16;             // greedy tokens decoded after the prefill (P metrics)
  int chunk = 512;                    // prefill chunk (smaller when a policy needs it)
  std::size_t budget_bytes = std::size_t{2} << 30;  // resident KV budget per cache
  std::int64_t trained_ctx = 0;                     // 0 = the model's n_ctx_train
  std::uint64_t seed = 0;
  std::function<void(const std::string&)> progress;  // one line per finished cell
};

struct CapEvalRow;
// Called after each finished cell with every row so far (for reports that must survive an
// interrupted run).
using CapEvalRowsFn = std::function<void(const std::vector<CapEvalRow>&)>;

struct CapEvalRow {
  std::string policy;
  int length = 0;
  bool served = false;
  std::string refusal;  // why not served
  std::optional<double> passkey_accuracy;
  std::optional<double> ppl, ppl_full, kl, top1_agreement;
  std::optional<double> prefill_tok_s, decode_tok_s, ttft_ms, tpot_ms;
  std::optional<std::size_t> kv_bytes;
  // What a cache keeping every layer's K and V rows of all `length` tokens in f32 would hold
  // (no policy, no sliding window): the baseline kv_bytes is a fraction of.
  std::optional<std::size_t> kv_keep_all_bytes;
};

// Text of exactly n tokens (BOS first when the model uses one) from a fixed-seed sentence
// generator: varied, non-repeating English-like sentences.
std::vector<std::int32_t> eval_text_tokens(const Model& model, int n, std::uint64_t seed);

// Runs every (policy, length) cell. Throws Error::usage on a bad spelling or length before
// running anything.
std::vector<CapEvalRow> run_cap_eval(Model& model, const CapEvalOptions& opt,
                                     const CapEvalRowsFn& on_rows = {});

// {"model": ..., "results": [{"policy", "length", "passkey_accuracy", "ppl", "ppl_full", "kl",
// "top1_agreement", "prefill_tok_s", "decode_tok_s", "ttft_ms", "tpot_ms", "kv_bytes",
// "kv_keep_all_bytes", "served"}]}, nulls where not measured.
Json cap_eval_json(const std::string& model, const std::vector<CapEvalRow>& rows);

// The table printed by `gearbox serve cap-eval` (one row per cell, plus per policy the longest
// length served and its KV bytes per token).
void print_cap_eval(std::ostream& out, const std::vector<CapEvalRow>& rows);

}  // namespace gearbox::serve::cap
