// The HTTP client side of `gearbox sched daemon`: one call to its JSON API.
#pragma once

#include <string>

namespace gearbox::apps::sched_cli {

// Calls METHOD (GET, POST or DELETE) on `path` of the daemon at `url`; returns the body.
// Throws Error::runtime when the daemon is unreachable or answers 5xx, Error::input with the
// daemon's message for a 4xx.
std::string daemon_call(const std::string& url, const std::string& method, const std::string& path,
                        const std::string& body = "");

}  // namespace gearbox::apps::sched_cli
