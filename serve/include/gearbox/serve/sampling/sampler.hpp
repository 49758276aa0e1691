// Choosing the next token from logits: greedy (temperature 0) or sampled with temperature,
// top-k and top-p (nucleus), from a seeded generator so runs are reproducible.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace gearbox::serve {

struct SamplingParams {
  float temperature = 0.0f;  // <= 0: greedy (argmax, lowest id on ties)
  int top_k = 40;            // <= 0: no top-k cut
  float top_p = 1.0f;        // >= 1: no nucleus cut
  std::uint64_t seed = 0;
};

class Sampler {
 public:
  // Throws Error::usage for temperature < 0, NaN, or top_p outside (0, 1].
  explicit Sampler(SamplingParams params);
  // The next token for `logits` (n_vocab values).
  std::int32_t sample(std::span<const float> logits);
  const SamplingParams& params() const { return p_; }

 private:
  SamplingParams p_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, std::int32_t>> cand_;
};

// argmax of `logits` (lowest index on ties).
std::int32_t argmax(std::span<const float> logits);

}  // namespace gearbox::serve
