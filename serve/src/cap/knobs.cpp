// KnobValues: declared knobs, defaults, conversions with errors naming policy.knob.
#include "knobs.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "gearbox/core/error.hpp"

namespace gearbox::serve::cap {

KnobValues::KnobValues(const PolicyTerm& term, const std::vector<KnobInfo>& declared,
                       bool bare_allowed)
    : policy_(term.name) {
  for (const auto& k : declared) values_[k.name] = k.default_value;
  std::string known;
  for (const auto& k : declared) known += (known.empty() ? "" : ", ") + k.name;
  if (known.empty()) known = "none";
  bool bare_used = false;
  for (const auto& [key, value] : term.knobs) {
    if (key.empty()) {
      if (!bare_allowed || declared.empty() || bare_used)
        throw Error::usage("unexpected bare value in policy '" + policy_ + "'")
            .field(policy_)
            .expected("KNOB=VALUE with KNOB one of: " + known)
            .found("'" + value + "'");
      values_[declared.front().name] = value;
      bare_used = true;
      continue;
    }
    if (!values_.count(key))
      throw Error::usage("unknown knob for policy '" + policy_ + "'")
          .field(policy_ + "." + key)
          .expected("one of: " + known)
          .found("'" + key + "'");
    values_[key] = value;
  }
}

const std::string& KnobValues::text(const std::string& knob) const {
  return values_.at(knob);
}

std::int64_t KnobValues::integer(const std::string& knob, std::int64_t lo, std::int64_t hi) const {
  const std::string& s = text(knob);
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v < lo || v > hi)
    throw Error::usage("bad knob value")
        .field(policy_ + "." + knob)
        .expected("an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]")
        .found("'" + s + "'");
  return v;
}

double KnobValues::number(const std::string& knob, double lo, double hi) const {
  const std::string& s = text(knob);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v) || v < lo || v > hi)
    throw Error::usage("bad knob value")
        .field(policy_ + "." + knob)
        .expected("a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]")
        .found("'" + s + "'");
  return v;
}

std::string KnobValues::choice(const std::string& knob,
                               const std::vector<std::string>& choices) const {
  const std::string& s = text(knob);
  std::string list;
  for (const auto& c : choices) {
    if (c == s) return s;
    list += (list.empty() ? "" : ", ") + c;
  }
  throw Error::usage("bad knob value")
      .field(policy_ + "." + knob)
      .expected("one of: " + list)
      .found("'" + s + "'");
}

}  // namespace gearbox::serve::cap
