// Syntax of policy spellings: terms by '+', name by ':', knobs by ',', values by '='.
#include "gearbox/serve/cap/policy_spec.hpp"

#include <algorithm>
#include <cctype>

#include "gearbox/core/error.hpp"

namespace gearbox::serve::cap {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? s.npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

std::vector<PolicyTerm> parse_policy_spec(std::string_view spelling) {
  if (spelling.size() > 4096)
    throw Error::usage("policy spelling too long").field("policy").expected("<= 4096 bytes");
  std::vector<PolicyTerm> terms;
  for (std::string_view raw : split(spelling, '+')) {
    PolicyTerm term;
    const std::size_t colon = raw.find(':');
    term.name = lower(trim(raw.substr(0, colon)));
    if (term.name.empty())
      throw Error::usage("empty policy name")
          .field("policy")
          .expected("NAME[:KNOB=V,...] joined by '+'")
          .found("'" + std::string(spelling) + "'");
    if (colon != std::string_view::npos) {
      for (std::string_view kv : split(raw.substr(colon + 1), ',')) {
        const std::size_t eq = kv.find('=');
        std::string key = eq == std::string_view::npos ? "" : lower(trim(kv.substr(0, eq)));
        std::string value = trim(eq == std::string_view::npos ? kv : kv.substr(eq + 1));
        if (value.empty() || (eq != std::string_view::npos && key.empty()))
          throw Error::usage("policy knob needs KNOB=VALUE")
              .field(term.name)
              .expected("KNOB=VALUE")
              .found("'" + std::string(kv) + "'");
        for (const auto& [k, v] : term.knobs)
          if (!key.empty() && k == key)
            throw Error::usage("policy knob given twice").field(term.name + "." + key);
        if (key.empty()) value = lower(value);
        term.knobs.emplace_back(std::move(key), std::move(value));
      }
    }
    terms.push_back(std::move(term));
  }
  return terms;
}

std::string to_spelling(const std::vector<PolicyTerm>& terms) {
  std::string out;
  for (std::size_t t = 0; t < terms.size(); ++t) {
    if (t) out += '+';
    out += terms[t].name;
    for (std::size_t i = 0; i < terms[t].knobs.size(); ++i) {
      out += i == 0 ? ':' : ',';
      const auto& [k, v] = terms[t].knobs[i];
      out += k.empty() ? v : k + "=" + v;
    }
  }
  return out;
}

}  // namespace gearbox::serve::cap
