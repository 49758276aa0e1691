#include "daemon_client.hpp"

#include <httplib.h>

#include "gearbox/core/error.hpp"
#include "gearbox/core/output.hpp"

namespace gearbox::apps::sched_cli {

std::string daemon_call(const std::string& url, const std::string& method, const std::string& path,
                        const std::string& body) {
  httplib::Client cli(url);
  cli.set_connection_timeout(5, 0);
  cli.set_read_timeout(30, 0);
  httplib::Result r = method == "POST"     ? cli.Post(path, body, "application/json")
                      : method == "DELETE" ? cli.Delete(path)
                                           : cli.Get(path);
  if (!r) throw Error::runtime("cannot reach the daemon").field("--url").found(url);
  if (r->status >= 400) {
    const Json e = Json::parse(r->body, nullptr, false);
    const std::string msg =
        !e.is_discarded() && e.contains("error") ? e["error"].get<std::string>() : r->body;
    if (r->status < 500) throw Error::input(msg);
    throw Error::runtime(msg);
  }
  return r->body;
}

}  // namespace gearbox::apps::sched_cli
