#include "gearbox/serve/model/rope.hpp"

#include <cmath>

namespace gearbox::serve {

RopeSpec default_rope(const ModelConfig& cfg) {
  RopeSpec r;
  r.pairing = cfg.rope_pairing;
  r.head_dim = cfg.head_dim;
  r.n_rot = cfg.n_rot;
  r.inv_freq.resize(static_cast<std::size_t>(cfg.n_rot / 2));
  // As GGML computes it: successive powers of theta^(-2/n_rot), in float, each divided by its
  // frequency factor when the model has them (Llama 3's rule).
  const float step = std::pow(cfg.rope_theta, -2.0f / static_cast<float>(cfg.n_rot));
  const bool factors = cfg.rope_freq_factors.size() == static_cast<std::size_t>(cfg.n_rot / 2);
  float f = 1.0f;
  for (int i = 0; i < cfg.n_rot / 2; ++i) {
    const auto k = static_cast<std::size_t>(i);
    r.inv_freq[k] = cfg.rope_freq_scale * (factors ? f / cfg.rope_freq_factors[k] : f);
    f *= step;
  }
  return r;
}

void apply_rope(const RopeSpec& rope, float* x, int n_heads, std::int64_t pos) {
  const int half = rope.n_rot / 2;
  for (int i = 0; i < half; ++i) {
    const float theta = static_cast<float>(pos) * rope.inv_freq[static_cast<std::size_t>(i)];
    const float c = std::cos(theta) * rope.mscale, s = std::sin(theta) * rope.mscale;
    for (int h = 0; h < n_heads; ++h) {
      float* v = x + static_cast<std::size_t>(h) * rope.head_dim;
      const int a = rope.pairing == RopePairing::kNormal ? 2 * i : i;
      const int b = rope.pairing == RopePairing::kNormal ? 2 * i + 1 : i + half;
      const float x0 = v[a], x1 = v[b];
      v[a] = x0 * c - x1 * s;
      v[b] = x0 * s + x1 * c;
    }
  }
}

}  // namespace gearbox::serve
