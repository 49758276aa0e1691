// Log-probabilities of tokens from raw logits, as the OpenAI `logprobs` report them: the
// log-softmax of the model's logits (no temperature, no top-p), with the most likely tokens.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace gearbox::serve {

// log_softmax(logits)[token]; fills `top` with the `top_n` most likely ids and their
// log-probabilities, most likely first, lowest id on ties (top_n <= 0: left empty). The sum
// runs in double from the maximum, so large logits neither overflow nor lose the small ones.
// `token` must be in [0, logits.size()).
float log_softmax_top(std::span<const float> logits, std::int32_t token, int top_n,
                      std::vector<std::pair<std::int32_t, float>>& top);

}  // namespace gearbox::serve
