#include "gearbox/serve/sampling/logprobs.hpp"

#include <algorithm>
#include <cmath>

namespace gearbox::serve {

float log_softmax_top(std::span<const float> logits, std::int32_t token, int top_n,
                      std::vector<std::pair<std::int32_t, float>>& top) {
  top.clear();
  const float mx = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float x : logits) sum += std::exp(static_cast<double>(x) - mx);
  const double log_z = static_cast<double>(mx) + std::log(sum);
  auto lp = [&](std::int32_t i) {
    return static_cast<float>(static_cast<double>(logits[static_cast<std::size_t>(i)]) - log_z);
  };
  if (top_n > 0) {
    // Better: larger logit, then lower id. A min-heap of the best `n` seen so far.
    const auto n = static_cast<std::size_t>(std::min<std::size_t>(top_n, logits.size()));
    auto better = [&](std::int32_t a, std::int32_t b) {
      const float la = logits[static_cast<std::size_t>(a)],
                  lb = logits[static_cast<std::size_t>(b)];
      return la > lb || (la == lb && a < b);
    };
    std::vector<std::int32_t> heap;
    heap.reserve(n + 1);
    for (std::size_t i = 0; i < logits.size(); ++i) {
      const auto id = static_cast<std::int32_t>(i);
      if (heap.size() < n) {
        heap.push_back(id);
        std::push_heap(heap.begin(), heap.end(), better);
      } else if (better(id, heap.front())) {
        std::pop_heap(heap.begin(), heap.end(), better);
        heap.back() = id;
        std::push_heap(heap.begin(), heap.end(), better);
      }
    }
    std::sort(heap.begin(), heap.end(), better);
    for (std::int32_t id : heap) top.emplace_back(id, lp(id));
  }
  return lp(token);
}

}  // namespace gearbox::serve
