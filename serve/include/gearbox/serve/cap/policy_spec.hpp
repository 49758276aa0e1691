// The spelling of a long-context policy, shared by `--kv`, `--policy` and the server's `cap`
// field: `NAME[:KNOB=V,...]` terms joined by '+', e.g. `streaming:sink=4,window=1024`,
// `quant:int8`, `rope:yarn,factor=4`, `streaming:window=512+quant:int4`. A bare word after
// the colon (`int8`, `yarn`) sets the policy's main knob. This file is syntax only; the
// policies (cap_policy.hpp) give the knobs their meaning.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gearbox::serve::cap {

struct PolicyTerm {
  std::string name;
  // (knob, value) in the order written; a bare word has an empty knob name.
  std::vector<std::pair<std::string, std::string>> knobs;
};

// Splits `spelling` into terms. Throws Error::usage naming the offending term or knob when a
// name is empty, a knob has no value, or a knob is repeated.
std::vector<PolicyTerm> parse_policy_spec(std::string_view spelling);

// The canonical spelling of terms (inverse of parse_policy_spec).
std::string to_spelling(const std::vector<PolicyTerm>& terms);

}  // namespace gearbox::serve::cap
