// Perplexity of a model on a token sequence, in non-overlapping windows of `ctx` tokens (each
// window a fresh context; every token after a window's first is scored). The caller decides
// the tokens (BOS first when the model's file asks for one: Tokenizer::add_bos()).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gearbox/serve/model/model.hpp"

namespace gearbox::serve {

struct PerplexityResult {
  double nll = 0;  // summed negative log-likelihood (nats)
  std::size_t scored = 0, windows = 0;
  double ppl() const { return scored ? std::exp(nll / static_cast<double>(scored)) : 0.0; }
};

// Throws Error::input when there are fewer than 2 tokens or ctx < 2.
PerplexityResult perplexity(Model& model, const std::vector<std::int32_t>& tokens, int ctx);

}  // namespace gearbox::serve
