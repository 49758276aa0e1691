// Fidelity of a policy to full attention, as pure functions over next-token logits at the same
// positions of the same text: perplexity of each, KL(full || policy) and top-1 agreement.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace gearbox::serve::cap {

// -log softmax(logits)[target], computed stably (log-sum-exp).
double negative_log_likelihood(std::span<const float> logits, std::int32_t target);

// KL(p || q) with p = softmax(p_logits), q = softmax(q_logits), in nats (>= 0).
double kl_divergence(std::span<const float> p_logits, std::span<const float> q_logits);

// Index of the largest logit (the first on ties).
std::size_t argmax(std::span<const float> logits);

struct FidelityReport {
  std::size_t positions = 0;
  double ppl = 0;             // perplexity of the policy's predictions
  double ppl_full = 0;        // perplexity of full attention's
  double kl = 0;              // mean KL(full || policy) over positions
  double top1_agreement = 0;  // fraction of positions whose argmax agrees
};

// Accumulates positions: full and policy logits (n_vocab each) and the token that followed.
class FidelityAccumulator {
 public:
  // Throws Error::usage when the rows differ in size or the target is out of range.
  void add(std::span<const float> full, std::span<const float> policy, std::int32_t next);
  // The report so far (zeros when empty).
  FidelityReport report() const;

 private:
  std::size_t n_ = 0, agree_ = 0;
  double nll_ = 0, nll_full_ = 0, kl_ = 0;
};

}  // namespace gearbox::serve::cap
