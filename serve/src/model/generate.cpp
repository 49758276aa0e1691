#include "gearbox/serve/model/generate.hpp"

#include <algorithm>

#include "gearbox/core/error.hpp"
#include "gearbox/core/stats.hpp"

namespace gearbox::serve {

GenerateResult generate(Model& model, KvCache& cache, const std::vector<std::int32_t>& prompt,
                        const GenerateOptions& opt,
                        const std::function<void(const std::string&)>& on_text) {
  if (prompt.empty()) throw Error::usage("generate: empty prompt (give at least BOS)");
  if (opt.max_tokens < 0) throw Error::usage("generate: negative token count").field("n");
  const auto& tok = model.tokenizer();
  const std::size_t V = static_cast<std::size_t>(model.config().n_vocab);
  std::vector<float> logits(V);
  Sampler sampler(opt.sampling);
  GenerateResult res;
  res.prompt_tokens = static_cast<int>(prompt.size());
  res.finish_reason = "length";
  Stopwatch sw;
  const std::size_t chunk =
      opt.prefill_chunk > 0 ? static_cast<std::size_t>(opt.prefill_chunk) : prompt.size();
  for (std::size_t i = 0; i < prompt.size(); i += chunk) {
    const std::size_t n = std::min(chunk, prompt.size() - i);
    model.prefill(cache, opt.seq, std::span(prompt.data() + i, n), logits, false, opt.rope);
  }
  const double t_prefill = sw.seconds();
  res.prefill_tok_s = static_cast<double>(prompt.size()) / std::max(t_prefill, 1e-9);
  DetokenizeStream detok(tok);
  std::string held;  // text not yet emitted because it could be the start of a stop string
  Stopwatch decode_sw;
  int decoded = 0;
  bool stop_hit = false;
  for (int i = 0; i < opt.max_tokens; ++i) {
    const std::int32_t next = sampler.sample(logits);
    if (i == 0) res.ttft_ms = sw.ms();
    if (opt.stop_at_eog && tok.is_end_of_generation(next)) {
      res.finish_reason = "stop";
      break;
    }
    res.tokens.push_back(next);
    held += detok.push(next);
    bool stopped = false;
    for (const auto& s : opt.stop) {
      if (s.empty()) continue;
      if (const auto at = held.find(s); at != std::string::npos) {
        held.erase(at);
        stopped = true;
      }
    }
    // Emit all but the longest suffix that could still begin a stop string.
    std::size_t keep = 0;
    if (!stopped)
      for (const auto& s : opt.stop)
        for (std::size_t k = std::min(s.size() - (s.empty() ? 0 : 1), held.size()); k > keep; --k)
          if (held.compare(held.size() - k, k, s, 0, k) == 0) {
            keep = k;
            break;
          }
    const std::string out = held.substr(0, held.size() - keep);
    held.erase(0, held.size() - keep);
    res.text += out;
    if (on_text && !out.empty()) on_text(out);
    if (stopped) {
      res.finish_reason = "stop";
      stop_hit = true;
      break;
    }
    if (i + 1 == opt.max_tokens) break;
    const DecodeItem item{opt.seq, next, opt.rope};
    model.decode(cache, std::span<const DecodeItem>(&item, 1), logits);
    ++decoded;
  }
  if (!stop_hit) {
    held += detok.flush();
    res.text += held;
    if (on_text && !held.empty()) on_text(held);
  }
  const double t_dec = decode_sw.seconds();
  res.decode_tok_s = decoded > 0 ? decoded / std::max(t_dec, 1e-9) : 0.0;
  if (res.ttft_ms == 0) res.ttft_ms = sw.ms();
  return res;
}

}  // namespace gearbox::serve
