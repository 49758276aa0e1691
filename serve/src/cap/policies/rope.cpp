// `rope`: context extension by rescaling RoPE: linear position interpolation (Chen et al.
// 2023), NTK-aware base scaling (bloc97 2023) or YaRN (Peng et al. 2023); serves C at some A.
// The formulas are in cap/rope_scaling.cpp.
#include "../knobs.hpp"
#include "gearbox/core/error.hpp"
#include "policies.hpp"

namespace gearbox::serve::cap {
namespace {

std::string num(double v) {
  std::string s = std::to_string(v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

class RopePolicy final : public CapPolicy {
 public:
  explicit RopePolicy(const PolicyTerm& term) {
    KnobValues k(term, knobs(), true);
    method_ = k.choice("method", {"linear", "ntk", "yarn"});
    factor_ = k.number("factor", 1.0, 1024.0);
    orig_ctx_ = k.integer("orig_ctx", 0, std::int64_t{1} << 30);
    beta_fast_ = k.number("beta_fast", 0.0, 1e6);
    beta_slow_ = k.number("beta_slow", 0.0, 1e6);
    if (beta_slow_ >= beta_fast_)
      throw Error::usage("YaRN ramp needs beta_slow < beta_fast")
          .field("rope.beta_slow")
          .expected("< " + num(beta_fast_))
          .found(num(beta_slow_));
  }
  std::string_view name() const override { return "rope"; }
  std::string_view role() const override { return "positions"; }
  std::pair<CapGoal, CapGoal> serves() const override {
    return {CapGoal::kContext, CapGoal::kPerformance};
  }
  std::vector<KnobInfo> knobs() const override {
    return {{"method", "yarn", "linear, ntk or yarn (a bare word sets it: rope:ntk)"},
            {"factor", "4", "context extension factor s (1 = unscaled)"},
            {"orig_ctx", "0", "trained context the factor extends (0 = the model's)"},
            {"beta_fast", "32", "YaRN: rotations per context above which a dim is kept"},
            {"beta_slow", "1", "YaRN: rotations per context below which a dim is interpolated"}};
  }
  void apply(KvRecipe& r) const override {
    r.rope = method_ == "linear" ? RopeScaling::kLinear
             : method_ == "ntk"  ? RopeScaling::kNtk
                                 : RopeScaling::kYarn;
    r.rope_factor = factor_;
    r.rope_orig_ctx = orig_ctx_;
    r.yarn_beta_fast = beta_fast_;
    r.yarn_beta_slow = beta_slow_;
  }
  std::string spelling() const override {
    std::string s = "rope:" + method_ + ",factor=" + num(factor_);
    if (orig_ctx_) s += ",orig_ctx=" + std::to_string(orig_ctx_);
    if (method_ == "yarn") s += ",beta_fast=" + num(beta_fast_) + ",beta_slow=" + num(beta_slow_);
    return s;
  }

 private:
  std::string method_;
  double factor_ = 4, beta_fast_ = 32, beta_slow_ = 1;
  std::int64_t orig_ctx_ = 0;
};

}  // namespace

std::unique_ptr<CapPolicy> make_rope_policy(const PolicyTerm& term) {
  return std::make_unique<RopePolicy>(term);
}

}  // namespace gearbox::serve::cap
