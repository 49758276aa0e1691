// Linear interpolation, NTK-aware and YaRN RoPE scaling (formulas in rope_scaling.hpp).
#include "gearbox/serve/cap/rope_scaling.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace gearbox::serve::cap {

RopeSpec scaled_rope(const RopeSpec& base, const KvRecipe& r, std::int64_t n_ctx_train) {
  RopeSpec out = base;
  const double s = r.rope_factor;
  const auto half = static_cast<std::ptrdiff_t>(out.inv_freq.size());
  const double d = 2.0 * static_cast<double>(half);
  switch (r.rope) {
    case RopeScaling::kNone:
      break;
    case RopeScaling::kLinear:
      for (float& f : out.inv_freq) f = static_cast<float>(f / s);
      break;
    case RopeScaling::kNtk:
      if (d <= 2) break;
      for (std::ptrdiff_t i = 0; i < half; ++i)
        out.inv_freq[i] = static_cast<float>(out.inv_freq[i] *
                                             std::pow(s, -2.0 * static_cast<double>(i) / (d - 2)));
      break;
    case RopeScaling::kYarn: {
      const double L = static_cast<double>(r.rope_orig_ctx > 0 ? r.rope_orig_ctx : n_ctx_train);
      for (float& f : out.inv_freq) {
        const double theta = f;
        const double rot = L * theta / (2.0 * std::numbers::pi);
        const double gamma =
            std::clamp((rot - r.yarn_beta_slow) / (r.yarn_beta_fast - r.yarn_beta_slow), 0.0, 1.0);
        f = static_cast<float>(theta / s + gamma * theta * (1.0 - 1.0 / s));
      }
      const double m = r.yarn_mscale > 0 ? r.yarn_mscale : 0.1 * std::log(s) + 1.0;
      out.mscale = static_cast<float>(base.mscale * m);
      break;
    }
  }
  return out;
}

std::int64_t context_limit(const KvRecipe& r, std::int64_t n_ctx_train) {
  if (r.eviction != KvEviction::kNone) return std::numeric_limits<std::int64_t>::max();
  if (r.ctx_limit > 0) return r.ctx_limit;
  if (r.rope == RopeScaling::kNone) return n_ctx_train;
  const double orig = static_cast<double>(r.rope_orig_ctx > 0 ? r.rope_orig_ctx : n_ctx_train);
  return static_cast<std::int64_t>(std::floor(orig * r.rope_factor));
}

}  // namespace gearbox::serve::cap
