#include "gearbox/serve/model/perplexity.hpp"

#include <algorithm>
#include <span>

#include "gearbox/core/error.hpp"
#include "gearbox/serve/model/contiguous_kv_cache.hpp"

namespace gearbox::serve {

PerplexityResult perplexity(Model& model, const std::vector<std::int32_t>& tokens, int ctx) {
  if (tokens.size() < 2) throw Error::input("text too short: fewer than 2 tokens");
  if (ctx < 2) throw Error::usage("perplexity: context below 2 tokens").field("ctx");
  const auto& cfg = model.config();
  const std::size_t V = static_cast<std::size_t>(cfg.n_vocab);
  PerplexityResult r;
  std::vector<float> logits;
  for (std::size_t start = 0; start + 1 < tokens.size(); start += static_cast<std::size_t>(ctx)) {
    const std::size_t len =
        std::min<std::size_t>(static_cast<std::size_t>(ctx), tokens.size() - start);
    if (len < 2) break;
    ContiguousKvCache cache(cfg, static_cast<int>(len));
    logits.resize(len * V);
    model.prefill(cache, 0, std::span(tokens.data() + start, len), logits, true);
    for (std::size_t i = 0; i + 1 < len; ++i) {
      const float* row = logits.data() + i * V;
      float mx = row[0];
      for (std::size_t v = 1; v < V; ++v) mx = std::max(mx, row[v]);
      double sum = 0;
      for (std::size_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(row[v] - mx));
      r.nll += std::log(sum) + mx - row[static_cast<std::size_t>(tokens[start + i + 1])];
      ++r.scored;
    }
    ++r.windows;
  }
  return r;
}

}  // namespace gearbox::serve
