// `streaming`: StreamingLLM (Xiao et al. 2023). Keeps the first `sink` tokens (attention
// sinks) and the `window` most recent; positions are assigned inside the cache (slot order),
// so any length stays within the trained positions and memory is constant (C+P).
#include "../knobs.hpp"
#include "policies.hpp"

namespace gearbox::serve::cap {
namespace {

class StreamingPolicy final : public CapPolicy {
 public:
  explicit StreamingPolicy(const PolicyTerm& term) {
    KnobValues k(term, knobs(), false);
    sink_ = static_cast<int>(k.integer("sink", 0, 1 << 20));
    window_ = static_cast<int>(k.integer("window", 1, 1 << 24));
    cache_positions_ = k.choice("positions", {"cache", "original"}) == "cache";
  }
  std::string_view name() const override { return "streaming"; }
  std::string_view role() const override { return "attention"; }
  std::pair<CapGoal, CapGoal> serves() const override {
    return {CapGoal::kContext, CapGoal::kPerformance};
  }
  std::vector<KnobInfo> knobs() const override {
    return {{"sink", "4", "first tokens always kept (attention sinks)"},
            {"window", "1024", "most recent tokens kept"},
            {"positions", "cache", "cache = positions are cache slots (the paper); original"}};
  }
  void apply(KvRecipe& r) const override {
    r.eviction = KvEviction::kStreaming;
    r.sink = sink_;
    r.window = window_;
    r.cache_positions = cache_positions_;
  }
  std::string spelling() const override {
    return "streaming:sink=" + std::to_string(sink_) + ",window=" + std::to_string(window_) +
           ",positions=" + (cache_positions_ ? "cache" : "original");
  }

 private:
  int sink_ = 4, window_ = 1024;
  bool cache_positions_ = true;
};

}  // namespace

std::unique_ptr<CapPolicy> make_streaming_policy(const PolicyTerm& term) {
  return std::make_unique<StreamingPolicy>(term);
}

}  // namespace gearbox::serve::cap
