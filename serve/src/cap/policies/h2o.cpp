// `h2o`: Heavy-Hitter Oracle (Zhang et al. 2023). Under a token `budget`, keeps the `recent`
// most recent tokens and, of the rest, those with the largest attention accumulated so far
// (per layer, summed over heads and queries: each layer keeps its own); C+P. Positions default to
// cache slots so lengths past the trained context stay in the positions the model knows.
#include "../knobs.hpp"
#include "policies.hpp"

namespace gearbox::serve::cap {
namespace {

class H2oPolicy final : public CapPolicy {
 public:
  explicit H2oPolicy(const PolicyTerm& term) {
    KnobValues k(term, knobs(), false);
    budget_ = static_cast<int>(k.integer("budget", 2, 1 << 24));
    recent_ = static_cast<int>(k.integer("recent", 0, budget_ - 1));
    if (recent_ == 0) recent_ = budget_ / 2;
    cache_positions_ = k.choice("positions", {"cache", "original"}) == "cache";
  }
  std::string_view name() const override { return "h2o"; }
  std::string_view role() const override { return "attention"; }
  std::pair<CapGoal, CapGoal> serves() const override {
    return {CapGoal::kContext, CapGoal::kPerformance};
  }
  std::vector<KnobInfo> knobs() const override {
    return {{"budget", "1024", "tokens kept in total"},
            {"recent", "0", "most recent tokens always kept (0 = budget/2)"},
            {"positions", "cache", "cache = positions are cache slots; original"}};
  }
  void apply(KvRecipe& r) const override {
    r.eviction = KvEviction::kH2o;
    r.budget = budget_;
    r.recent = recent_;
    r.cache_positions = cache_positions_;
  }
  std::string spelling() const override {
    return "h2o:budget=" + std::to_string(budget_) + ",recent=" + std::to_string(recent_) +
           ",positions=" + (cache_positions_ ? "cache" : "original");
  }

 private:
  int budget_ = 1024, recent_ = 512;
  bool cache_positions_ = true;
};

}  // namespace

std::unique_ptr<CapPolicy> make_h2o_policy(const PolicyTerm& term) {
  return std::make_unique<H2oPolicy>(term);
}

}  // namespace gearbox::serve::cap
