// CapPolicy: one long-context technique, which two of context length (C), accuracy (A) and
// performance (P) it serves, and its knobs. Each policy lives in its own file under
// src/cap/policies/ and contributes to a KvRecipe; plan_cap() composes the terms of a spelling
// (policy_spec.hpp) into one recipe, rejecting combinations that do not make sense.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gearbox/serve/cap/kv_recipe.hpp"
#include "gearbox/serve/cap/policy_spec.hpp"

namespace gearbox::serve::cap {

enum class CapGoal { kContext, kAccuracy, kPerformance };

// "C", "A" or "P".
const char* goal_letter(CapGoal g);

struct KnobInfo {
  std::string name;
  std::string default_value;
  std::string help;
};

class CapPolicy {
 public:
  virtual ~CapPolicy() = default;
  // The policy's name as spelled ("streaming").
  virtual std::string_view name() const = 0;
  // What it decides, for composition: "attention" (which tokens attention sees and where
  // they live: full, streaming, h2o, offload), "storage" (quant), "positions" (rope). A
  // composition holds at most one policy per role.
  virtual std::string_view role() const = 0;
  // The two goals it serves, in C, A, P order.
  virtual std::pair<CapGoal, CapGoal> serves() const = 0;
  // Its knobs with defaults (the first is the one a bare word sets, when bare_word()).
  virtual std::vector<KnobInfo> knobs() const = 0;
  // Writes its choices into `recipe`.
  virtual void apply(KvRecipe& recipe) const = 0;
  // The canonical spelling of this configured policy, every knob given.
  virtual std::string spelling() const = 0;
};

// Every policy name, in the order they are documented.
std::vector<std::string> policy_names();

// Builds the policy a term names, its knobs checked: throws Error::usage naming the policy and
// the knob (and listing the knobs or names known) on an unknown name, knob or bad value.
std::unique_ptr<CapPolicy> make_policy(const PolicyTerm& term);

// A parsed, composed spelling.
struct CapPlan {
  std::string spelling;  // canonical, every knob given
  std::vector<std::unique_ptr<CapPolicy>> policies;
  KvRecipe recipe;
  // "C+P" style summary of the goals the composition claims (union of its policies').
  std::string goals() const;
};

// Parses and composes `spelling` ("" means "full"). Throws Error::usage on bad syntax, an
// unknown policy or knob, or a composition that does not make sense (two eviction policies,
// full with eviction, offload with eviction, ...).
CapPlan plan_cap(std::string_view spelling);

}  // namespace gearbox::serve::cap
