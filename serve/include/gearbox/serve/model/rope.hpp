// Rotary position embedding as data: one inverse frequency per rotated pair, the pairing, and
// the attention scale factor. The model's own spec comes from its config; context-extension
// policies (linear interpolation, NTK, YaRN) build another spec and pass it per sequence.
#pragma once

#include <cstdint>
#include <vector>

#include "gearbox/serve/model/config.hpp"

namespace gearbox::serve {

struct RopeSpec {
  RopePairing pairing = RopePairing::kNormal;
  int head_dim = 0;             // values per head
  int n_rot = 0;                // rotated dimensions (even, <= head_dim); the rest pass through
  std::vector<float> inv_freq;  // n_rot/2 angular frequencies: angle = pos * inv_freq[i]
  float mscale = 1.0f;          // multiplies cos/sin (YaRN's magnitude scale; 1 = none)
};

// The model's own spec: inv_freq[i] = freq_scale * theta^(-2i/n_rot) / factor[i] (factors from
// cfg.rope_freq_factors, 1 when it is empty).
RopeSpec default_rope(const ModelConfig& cfg);

// Rotates `n_heads` heads of `x` (head-major, head_dim values each) in place for position
// `pos` (which may be negative: rotating by -p undoes rotating by p, so a cache can shift
// stored keys by a position delta).
void apply_rope(const RopeSpec& rope, float* x, int n_heads, std::int64_t pos);

}  // namespace gearbox::serve
