// `quant`: the KV cache stored as fp16 (llama.cpp's default cache; attention reads it
// directly), or int8 / int4, symmetric, one fp32 scale per group of 32 values of a row
// (llama.cpp's q8_0/q4_0 grouping); more tokens per byte (C+P).
#include "../knobs.hpp"
#include "policies.hpp"

namespace gearbox::serve::cap {
namespace {

class QuantPolicy final : public CapPolicy {
 public:
  explicit QuantPolicy(const PolicyTerm& term) {
    KnobValues k(term, knobs(), true);
    type_ = k.choice("type", {"int8", "int4", "f16"});
  }
  std::string_view name() const override { return "quant"; }
  std::string_view role() const override { return "storage"; }
  std::pair<CapGoal, CapGoal> serves() const override {
    return {CapGoal::kContext, CapGoal::kPerformance};
  }
  std::vector<KnobInfo> knobs() const override {
    return {{"type", "int8", "int8, int4 or f16 (a bare word sets it: quant:int4)"}};
  }
  void apply(KvRecipe& r) const override {
    r.storage = type_ == "int8"   ? KvStorage::kInt8
                : type_ == "int4" ? KvStorage::kInt4
                                  : KvStorage::kF16;
  }
  std::string spelling() const override { return "quant:" + type_; }

 private:
  std::string type_ = "int8";
};

}  // namespace

std::unique_ptr<CapPolicy> make_quant_policy(const PolicyTerm& term) {
  return std::make_unique<QuantPolicy>(term);
}

}  // namespace gearbox::serve::cap
