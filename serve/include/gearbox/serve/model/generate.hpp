// Single-sequence text generation on top of Model: prefill the prompt, then decode token by
// token with a Sampler until n tokens, an end-of-generation token or a stop string.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gearbox/serve/model/model.hpp"
#include "gearbox/serve/sampling/sampler.hpp"

namespace gearbox::serve {

struct GenerateOptions {
  int max_tokens = 64;
  SamplingParams sampling;
  std::vector<std::string> stop;  // stop strings (not included in the text)
  bool stop_at_eog = true;        // stop at end-of-generation tokens
  SeqId seq = 0;
  const RopeSpec* rope = nullptr;
  // Largest prefill step in tokens (0 = the whole prompt at once); evicting or offloading
  // caches accept bounded steps (cap::CapCache::max_step).
  int prefill_chunk = 0;
};

struct GenerateResult {
  std::vector<std::int32_t> tokens;  // generated ids (the stop token excluded)
  std::string text;
  int prompt_tokens = 0;
  std::string finish_reason;  // "length", "stop"
  double ttft_ms = 0;         // prompt prefill + first token
  double prefill_tok_s = 0;
  double decode_tok_s = 0;
};

// Generates from `prompt` (token ids, BOS included when wanted) into `cache`. `on_text`, when
// set, receives each piece of complete UTF-8 text as it is produced.
GenerateResult generate(Model& model, KvCache& cache, const std::vector<std::int32_t>& prompt,
                        const GenerateOptions& opt,
                        const std::function<void(const std::string&)>& on_text = {});

}  // namespace gearbox::serve
