// Greedy decoding compared with a reference continuation (llama.cpp's): tokens must agree one
// by one; the two may part only where our top choice and the reference's token are a near-tie
// in our logits (within `tie`), after which the texts differ and comparison stops.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "gearbox/serve/model/contiguous_kv_cache.hpp"
#include "gearbox/serve/model/model.hpp"
#include "gearbox/serve/sampling/sampler.hpp"

namespace gearbox::serve::testing {

// Returns how many reference tokens our greedy decoding reproduced (all of them, or those
// before a near-tie); adds a test failure when the two part without a near-tie.
inline std::size_t greedy_agreement(Model& m, const std::vector<std::int32_t>& prompt,
                                    const std::vector<std::int32_t>& want, double tie) {
  const std::size_t V = static_cast<std::size_t>(m.config().n_vocab);
  ContiguousKvCache cache(m.config(), static_cast<int>(prompt.size() + want.size() + 1));
  std::vector<float> logits(V);
  m.prefill(cache, 0, prompt, logits);
  for (std::size_t i = 0; i < want.size(); ++i) {
    const auto next = argmax(logits);
    if (next != want[i]) {
      const double gap =
          logits[static_cast<std::size_t>(next)] - logits[static_cast<std::size_t>(want[i])];
      EXPECT_LT(gap, tie) << "token " << i << ": ours " << next << ", reference " << want[i]
                          << " (not a near-tie)";
      return i;
    }
    if (i + 1 == want.size()) break;
    const DecodeItem item{0, next, nullptr};
    m.decode(cache, std::span(&item, 1), logits);
  }
  return want.size();
}

}  // namespace gearbox::serve::testing
