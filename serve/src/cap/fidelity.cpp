// Perplexity, KL divergence and top-1 agreement over logits.
#include "gearbox/serve/cap/fidelity.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "gearbox/core/error.hpp"

namespace gearbox::serve::cap {
namespace {

double log_sum_exp(std::span<const float> x) {
  double mx = -INFINITY;
  for (float v : x) mx = std::max(mx, static_cast<double>(v));
  double s = 0;
  for (float v : x) s += std::exp(static_cast<double>(v) - mx);
  return mx + std::log(s);
}

}  // namespace

double negative_log_likelihood(std::span<const float> logits, std::int32_t target) {
  if (target < 0 || static_cast<std::size_t>(target) >= logits.size())
    throw Error::usage("target token out of range")
        .field("target")
        .expected("< " + std::to_string(logits.size()))
        .found(std::to_string(target));
  return log_sum_exp(logits) - static_cast<double>(logits[static_cast<std::size_t>(target)]);
}

double kl_divergence(std::span<const float> p_logits, std::span<const float> q_logits) {
  if (p_logits.size() != q_logits.size() || p_logits.empty())
    throw Error::usage("logit rows differ in size")
        .field("logits")
        .expected(std::to_string(p_logits.size()))
        .found(std::to_string(q_logits.size()));
  const double lp = log_sum_exp(p_logits), lq = log_sum_exp(q_logits);
  double kl = 0;
  for (std::size_t i = 0; i < p_logits.size(); ++i) {
    const double log_p = p_logits[i] - lp, log_q = q_logits[i] - lq;
    kl += std::exp(log_p) * (log_p - log_q);
  }
  return std::max(0.0, kl);
}

std::size_t argmax(std::span<const float> logits) {
  return static_cast<std::size_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

void FidelityAccumulator::add(std::span<const float> full, std::span<const float> policy,
                              std::int32_t next) {
  kl_ += kl_divergence(full, policy);
  nll_full_ += negative_log_likelihood(full, next);
  nll_ += negative_log_likelihood(policy, next);
  agree_ += argmax(full) == argmax(policy);
  ++n_;
}

FidelityReport FidelityAccumulator::report() const {
  FidelityReport r;
  r.positions = n_;
  if (n_ == 0) return r;
  const auto n = static_cast<double>(n_);
  r.ppl = std::exp(nll_ / n);
  r.ppl_full = std::exp(nll_full_ / n);
  r.kl = kl_ / n;
  r.top1_agreement = static_cast<double>(agree_) / n;
  return r;
}

}  // namespace gearbox::serve::cap
