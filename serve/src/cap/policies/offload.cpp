// `offload`: full attention over every token, with the cold (oldest) KV blocks spilled out of
// the resident budget to host memory or a temporary file and read back when attended: C+A at
// the cost of P (every decode step reads the spilled blocks back).
#include "../knobs.hpp"
#include "policies.hpp"

namespace gearbox::serve::cap {
namespace {

class OffloadPolicy final : public CapPolicy {
 public:
  explicit OffloadPolicy(const PolicyTerm& term) {
    KnobValues k(term, knobs(), true);
    to_ = k.choice("to", {"file", "host"});
    hot_ = k.integer("hot", 0, std::int64_t{1} << 40);
  }
  std::string_view name() const override { return "offload"; }
  std::string_view role() const override { return "attention"; }
  std::pair<CapGoal, CapGoal> serves() const override {
    return {CapGoal::kContext, CapGoal::kAccuracy};
  }
  std::vector<KnobInfo> knobs() const override {
    return {{"to", "file", "file or host: where cold blocks go (a bare word sets it)"},
            {"hot", "0", "tokens kept resident (0 = what the KV budget holds)"}};
  }
  void apply(KvRecipe& r) const override {
    r.eviction = KvEviction::kNone;
    r.offload = to_ == "file" ? KvOffload::kFile : KvOffload::kHost;
    r.hot_tokens = hot_;
  }
  std::string spelling() const override {
    return "offload:to=" + to_ + ",hot=" + std::to_string(hot_);
  }

 private:
  std::string to_ = "file";
  std::int64_t hot_ = 0;
};

}  // namespace

std::unique_ptr<CapPolicy> make_offload_policy(const PolicyTerm& term) {
  return std::make_unique<OffloadPolicy>(term);
}

}  // namespace gearbox::serve::cap
