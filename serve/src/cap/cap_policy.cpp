// The policy registry and composition of terms into one KvRecipe.
#include "gearbox/serve/cap/cap_policy.hpp"

#include <functional>
#include <map>
#include <set>

#include "gearbox/core/error.hpp"
#include "policies/policies.hpp"

namespace gearbox::serve::cap {
namespace {

using Factory = std::unique_ptr<CapPolicy> (*)(const PolicyTerm&);

const std::vector<std::pair<std::string, Factory>>& registry() {
  static const std::vector<std::pair<std::string, Factory>> r = {
      {"full", make_full_policy}, {"streaming", make_streaming_policy},
      {"h2o", make_h2o_policy},   {"quant", make_quant_policy},
      {"rope", make_rope_policy}, {"offload", make_offload_policy}};
  return r;
}

}  // namespace

const char* goal_letter(CapGoal g) {
  switch (g) {
    case CapGoal::kContext:
      return "C";
    case CapGoal::kAccuracy:
      return "A";
    case CapGoal::kPerformance:
      return "P";
  }
  return "?";
}

std::vector<std::string> policy_names() {
  std::vector<std::string> names;
  for (const auto& [n, f] : registry()) names.push_back(n);
  return names;
}

std::unique_ptr<CapPolicy> make_policy(const PolicyTerm& term) {
  std::string known;
  for (const auto& [n, f] : registry()) {
    if (n == term.name) return f(term);
    known += (known.empty() ? "" : ", ") + n;
  }
  throw Error::usage("unknown KV policy")
      .field("policy")
      .expected("one of: " + known)
      .found("'" + term.name + "'");
}

std::string CapPlan::goals() const {
  std::set<CapGoal> g;
  for (const auto& p : policies) {
    g.insert(p->serves().first);
    g.insert(p->serves().second);
  }
  std::string s;
  for (CapGoal x : g) s += (s.empty() ? "" : "+") + std::string(goal_letter(x));
  return s;
}

CapPlan plan_cap(std::string_view spelling) {
  CapPlan plan;
  const auto terms = parse_policy_spec(spelling.empty() ? std::string_view("full") : spelling);
  std::map<std::string, std::string> role_taken;
  for (const auto& term : terms) {
    auto p = make_policy(term);
    const std::string role(p->role());
    if (auto it = role_taken.find(role); it != role_taken.end())
      throw Error::usage("policies '" + it->second + "' and '" + term.name +
                         "' cannot be combined: both decide the " + role)
          .field("policy")
          .found("'" + std::string(spelling) + "'");
    role_taken[role] = term.name;
    p->apply(plan.recipe);
    plan.spelling += (plan.spelling.empty() ? "" : "+") + p->spelling();
    plan.policies.push_back(std::move(p));
  }
  return plan;
}

}  // namespace gearbox::serve::cap
