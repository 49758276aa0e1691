// `full`: exact attention over every token, within the trained context (A+P). Past the limit
// the cache refuses the tokens with an error instead of producing garbage.
#include "../knobs.hpp"
#include "policies.hpp"

namespace gearbox::serve::cap {
namespace {

class FullPolicy final : public CapPolicy {
 public:
  explicit FullPolicy(const PolicyTerm& term) {
    KnobValues k(term, knobs(), false);
    ctx_ = k.integer("ctx", 0, std::int64_t{1} << 40);
  }
  std::string_view name() const override { return "full"; }
  std::string_view role() const override { return "attention"; }
  std::pair<CapGoal, CapGoal> serves() const override {
    return {CapGoal::kAccuracy, CapGoal::kPerformance};
  }
  std::vector<KnobInfo> knobs() const override {
    return {{"ctx", "0", "context limit in tokens (0 = the model's trained context)"}};
  }
  void apply(KvRecipe& r) const override {
    r.eviction = KvEviction::kNone;
    r.ctx_limit = ctx_;
  }
  std::string spelling() const override { return "full:ctx=" + std::to_string(ctx_); }

 private:
  std::int64_t ctx_ = 0;
};

}  // namespace

std::unique_ptr<CapPolicy> make_full_policy(const PolicyTerm& term) {
  return std::make_unique<FullPolicy>(term);
}

}  // namespace gearbox::serve::cap
