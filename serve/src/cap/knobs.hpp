// Knob values of one policy term: checked against the policy's declared knobs, with defaults,
// and converted with errors that name the policy and the knob.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gearbox/serve/cap/cap_policy.hpp"

namespace gearbox::serve::cap {

class KnobValues {
 public:
  // Matches `term`'s knobs to `declared` (a bare word sets declared[0] when bare_allowed).
  // Throws Error::usage on an unknown knob, listing the known ones.
  KnobValues(const PolicyTerm& term, const std::vector<KnobInfo>& declared, bool bare_allowed);

  // The value as an integer in [lo, hi]; throws Error::usage naming policy.knob otherwise.
  std::int64_t integer(const std::string& knob, std::int64_t lo, std::int64_t hi) const;
  // The value as a finite number in [lo, hi].
  double number(const std::string& knob, double lo, double hi) const;
  // The value, which must be one of `choices`.
  std::string choice(const std::string& knob, const std::vector<std::string>& choices) const;
  // The raw value.
  const std::string& text(const std::string& knob) const;

 private:
  std::string policy_;
  std::map<std::string, std::string> values_;
};

}  // namespace gearbox::serve::cap
