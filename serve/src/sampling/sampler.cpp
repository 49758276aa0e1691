#include "gearbox/serve/sampling/sampler.hpp"

#include <algorithm>
#include <cmath>

#include "gearbox/core/error.hpp"

namespace gearbox::serve {

std::int32_t argmax(std::span<const float> logits) {
  std::int32_t best = 0;
  for (std::size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[static_cast<std::size_t>(best)]) best = static_cast<std::int32_t>(i);
  return best;
}

Sampler::Sampler(SamplingParams params) : p_(params), rng_(params.seed) {
  if (!(p_.temperature >= 0.0f) || !std::isfinite(p_.temperature))
    throw Error::usage("temperature must be a finite number >= 0")
        .field("temp")
        .found(std::to_string(p_.temperature));
  if (!(p_.top_p > 0.0f && p_.top_p <= 1.0f))
    throw Error::usage("top-p must be in (0, 1]").field("top-p").found(std::to_string(p_.top_p));
}

std::int32_t Sampler::sample(std::span<const float> logits) {
  if (logits.empty()) throw Error::usage("sample: no logits");
  if (p_.temperature <= 0.0f) return argmax(logits);
  // Candidates sorted by logit (top-k first keeps the sort partial), then softmax at the
  // temperature, nucleus cut at top_p, and a draw from what remains.
  cand_.resize(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i)
    cand_[i] = {logits[i], static_cast<std::int32_t>(i)};
  std::size_t k = cand_.size();
  if (p_.top_k > 0 && static_cast<std::size_t>(p_.top_k) < k)
    k = static_cast<std::size_t>(p_.top_k);
  auto by_logit = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  std::partial_sort(cand_.begin(), cand_.begin() + static_cast<std::ptrdiff_t>(k), cand_.end(),
                    by_logit);
  cand_.resize(k);
  const float mx = cand_[0].first;
  double sum = 0;
  for (auto& c : cand_) {
    c.first = std::exp((c.first - mx) / p_.temperature);
    sum += c.first;
  }
  std::size_t keep = cand_.size();
  if (p_.top_p < 1.0f) {
    double cum = 0;
    for (std::size_t i = 0; i < cand_.size(); ++i) {
      cum += cand_[i].first / sum;
      if (cum >= p_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double total = 0;
  for (std::size_t i = 0; i < keep; ++i) total += cand_[i].first;
  std::uniform_real_distribution<double> u(0.0, total);
  double r = u(rng_), acc = 0;
  for (std::size_t i = 0; i < keep; ++i) {
    acc += cand_[i].first;
    if (r < acc) return cand_[i].second;
  }
  return cand_[keep - 1].second;
}

}  // namespace gearbox::serve
