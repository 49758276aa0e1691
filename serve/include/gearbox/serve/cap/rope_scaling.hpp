// Context extension by rescaling RoPE, with the papers' formulas, applied to a model's own
// RopeSpec (model/rope.hpp). With d = n_rot rotated dims, pair i in [0, d/2), theta_i the
// model's inverse frequency, s the factor and L the original (trained) context:
//   linear (Chen et al. 2023, position interpolation): theta'_i = theta_i / s
//   NTK-aware (bloc97 2023): base' = base * s^(d/(d-2)), i.e. theta'_i = theta_i * s^(-2i/(d-2))
//   YaRN (Peng et al. 2023): r_i = L * theta_i / (2 pi) rotations over the trained context,
//     gamma_i = clamp((r_i - beta_slow) / (beta_fast - beta_slow), 0, 1),
//     theta'_i = (1 - gamma_i) * theta_i / s + gamma_i * theta_i, computed as
//     theta_i / s + gamma_i * theta_i * (1 - 1/s); attention scale sqrt(1/t) = 0.1 ln(s) + 1
//     applied to cos/sin of both q and k (mscale), so logits scale by 1/t.
// At s = 1 every method returns the model's spec bit for bit.
#pragma once

#include <cstdint>

#include "gearbox/serve/cap/kv_recipe.hpp"
#include "gearbox/serve/model/rope.hpp"

namespace gearbox::serve::cap {

// The RoPE spec `recipe` asks for, built from the model's `base` spec; `n_ctx_train` is the
// model's trained context (used when recipe.rope_orig_ctx is 0).
RopeSpec scaled_rope(const RopeSpec& base, const KvRecipe& recipe, std::int64_t n_ctx_train);

// The longest sequence a non-evicting cache under `recipe` may hold: recipe.ctx_limit if set,
// else n_ctx_train (times rope_factor when RoPE is scaled). Evicting recipes have no positional
// limit and get INT64_MAX.
std::int64_t context_limit(const KvRecipe& recipe, std::int64_t n_ctx_train);

}  // namespace gearbox::serve::cap
