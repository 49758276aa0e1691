// RoPE scaling: scale 1 is the unscaled spec bit for bit; each method's formula on a
// hand-checked spec; context limits.
#include "gearbox/serve/cap/rope_scaling.hpp"

#include <cmath>
#include <cstring>
#include <numbers>

#include <gtest/gtest.h>

#include "gearbox/serve/cap/cap_policy.hpp"

namespace gearbox::serve::cap {
namespace {

RopeSpec spec(int n_rot, double theta) {
  RopeSpec s;
  s.head_dim = n_rot;
  s.n_rot = n_rot;
  for (int i = 0; i < n_rot / 2; ++i)
    s.inv_freq.push_back(static_cast<float>(std::pow(theta, -2.0 * i / n_rot)));
  return s;
}

bool bit_equal(const RopeSpec& a, const RopeSpec& b) {
  return a.inv_freq.size() == b.inv_freq.size() && a.n_rot == b.n_rot &&
         std::memcmp(a.inv_freq.data(), b.inv_freq.data(), a.inv_freq.size() * sizeof(float)) ==
             0 &&
         std::memcmp(&a.mscale, &b.mscale, sizeof(float)) == 0;
}

TEST(RopeScaling, ScaleOneEqualsUnscaledExactly) {
  const RopeSpec base = spec(64, 10000.0);
  for (const char* m : {"linear", "ntk", "yarn"}) {
    const auto plan = plan_cap(std::string("rope:") + m + ",factor=1");
    EXPECT_TRUE(bit_equal(scaled_rope(base, plan.recipe, 2048), base)) << m;
  }
  // And odd sizes / a file-scaled spec.
  RopeSpec odd = spec(6, 500000.0);
  odd.mscale = 1.25f;
  for (const char* m : {"linear", "ntk", "yarn"})
    EXPECT_TRUE(bit_equal(
        scaled_rope(odd, plan_cap(std::string("rope:") + m + ",factor=1").recipe, 512), odd))
        << m;
}

TEST(RopeScaling, LinearDividesEveryFrequency) {
  const RopeSpec base = spec(8, 10000.0);
  const RopeSpec s = scaled_rope(base, plan_cap("rope:linear,factor=4").recipe, 512);
  for (std::size_t i = 0; i < base.inv_freq.size(); ++i)
    EXPECT_FLOAT_EQ(s.inv_freq[i], base.inv_freq[i] / 4.0f);
  EXPECT_EQ(s.mscale, 1.0f);
}

TEST(RopeScaling, NtkRaisesTheBase) {
  // d = 8, s = 4: base' = 10000 * 4^(8/6); theta'_i = base'^(-2i/8).
  const RopeSpec base = spec(8, 10000.0);
  const RopeSpec s = scaled_rope(base, plan_cap("rope:ntk,factor=4").recipe, 512);
  const double base2 = 10000.0 * std::pow(4.0, 8.0 / 6.0);
  for (int i = 0; i < 4; ++i)
    EXPECT_NEAR(s.inv_freq[i], std::pow(base2, -2.0 * i / 8), 1e-6 * std::pow(base2, -2.0 * i / 8));
  EXPECT_EQ(s.inv_freq[0], 1.0f);                           // highest frequency kept
  EXPECT_FLOAT_EQ(s.inv_freq[3], base.inv_freq[3] / 4.0f);  // lowest: interpolated as linear
}

TEST(RopeScaling, YarnRampAndAttentionScale) {
  // L = 512. Pair 0: theta = 1, r = 512/(2 pi) = 81.5 > 32: kept. Last pair of d = 8:
  // theta = 1e4^(-6/8) = 0.001, r = 0.0815 < 1: divided by s. A middle pair: interpolated.
  const RopeSpec base = spec(8, 10000.0);
  const RopeSpec s = scaled_rope(base, plan_cap("rope:yarn,factor=4").recipe, 512);
  EXPECT_EQ(s.inv_freq[0], base.inv_freq[0]);
  EXPECT_FLOAT_EQ(s.inv_freq[3], base.inv_freq[3] / 4.0f);
  // Pair 1: theta = 0.1, r = 51.2/(pi) = 8.149; gamma = (8.149 - 1) / 31 = 0.2306.
  const double theta = base.inv_freq[1];
  const double r = 512.0 * theta / (2 * std::numbers::pi);
  const double g = (r - 1.0) / 31.0;
  EXPECT_NEAR(s.inv_freq[1], (1 - g) * theta / 4 + g * theta, 1e-7);
  EXPECT_FLOAT_EQ(s.mscale, static_cast<float>(0.1 * std::log(4.0) + 1.0));
}

TEST(RopeScaling, ContextLimits) {
  EXPECT_EQ(context_limit(plan_cap("full").recipe, 512), 512);
  EXPECT_EQ(context_limit(plan_cap("full:ctx=100").recipe, 512), 100);
  EXPECT_EQ(context_limit(plan_cap("rope:yarn,factor=4").recipe, 512), 2048);
  EXPECT_EQ(context_limit(plan_cap("quant:int8").recipe, 512), 512);
  EXPECT_EQ(context_limit(plan_cap("offload").recipe, 512), 512);
  EXPECT_GT(context_limit(plan_cap("streaming").recipe, 512), std::int64_t{1} << 40);
}

}  // namespace
}  // namespace gearbox::serve::cap
