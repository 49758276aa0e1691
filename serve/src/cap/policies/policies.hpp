// Factories of the built-in CAP policies, one per file in this folder.
#pragma once

#include <memory>

#include "gearbox/serve/cap/cap_policy.hpp"

namespace gearbox::serve::cap {

std::unique_ptr<CapPolicy> make_full_policy(const PolicyTerm& term);
std::unique_ptr<CapPolicy> make_streaming_policy(const PolicyTerm& term);
std::unique_ptr<CapPolicy> make_h2o_policy(const PolicyTerm& term);
std::unique_ptr<CapPolicy> make_quant_policy(const PolicyTerm& term);
std::unique_ptr<CapPolicy> make_rope_policy(const PolicyTerm& term);
std::unique_ptr<CapPolicy> make_offload_policy(const PolicyTerm& term);

}  // namespace gearbox::serve::cap
