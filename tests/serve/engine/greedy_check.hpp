// Greedy decoding compared with a reference continuation (llama.cpp's): tokens must agree one
// by one; the two may part only where our top choice and the reference's token are a near-tie
// in our logits (within `tie`), after which the texts differ and comparison stops.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

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

// How a model's logits at every position compare with llama.cpp's top-5 there.
struct Top5Agreement {
  double worst = 0;        // largest |logit - reference| over every top-5 entry
  double mean = 0;         // mean of the same
  double first_worst = 0;  // largest at position 0 (no attention mixing)
  int top1_same = 0;       // positions whose argmax is the reference's first
  int decisive = 0;        // positions whose reference top-2 differ by more than `margin`
};

// Compares `logits` (positions x V, row-major) with `top5` (the reference's per-position
// {"ids", "logits"}); adds a test failure where a decisive position's argmax differs.
inline Top5Agreement compare_top5(const std::vector<float>& logits, const nlohmann::json& top5,
                                  std::size_t positions, std::size_t V, double margin) {
  Top5Agreement a;
  double sum_abs = 0;
  for (std::size_t i = 0; i < positions; ++i) {
    const auto tid = top5[i]["ids"].get<std::vector<std::int32_t>>();
    const auto tl = top5[i]["logits"].get<std::vector<double>>();
    for (std::size_t k = 0; k < tid.size(); ++k) {
      const double d = std::fabs(logits[i * V + static_cast<std::size_t>(tid[k])] - tl[k]);
      a.worst = std::max(a.worst, d);
      if (i == 0) a.first_worst = std::max(a.first_worst, d);
      sum_abs += d;
    }
    const auto ours = argmax(std::span<const float>(logits.data() + i * V, V));
    if (tl[0] - tl[1] > margin) {  // a clear winner must be the same token
      ++a.decisive;
      EXPECT_EQ(ours, tid[0]) << "position " << i;
    }
    a.top1_same += ours == tid[0];
  }
  a.mean = sum_abs / (5.0 * static_cast<double>(positions));
  return a;
}

}  // namespace gearbox::serve::testing
