// libFuzzer target: any bytes as a /v1/completions or /v1/chat/completions body (the first
// byte picks the endpoint and whether token ids are bounded by a vocabulary). The parser must
// either accept or throw gearbox::Error, and what the server then does with the outcome must
// not throw: the 400 body built from the error (its message, field and found value, which may
// cut the request's text anywhere) and, for an accepted request, its stop filter and cap
// spelling. ASan/UBSan catch memory errors and undefined behaviour. Regression inputs:
// tests/serve/server/api_request_test.cpp (ParserRegressions).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "gearbox/core/error.hpp"
#include "gearbox/serve/server/api_request.hpp"
#include "gearbox/serve/server/api_response.hpp"
#include "gearbox/serve/server/stop_filter.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gearbox::serve::server;
  if (size == 0) return 0;
  const Endpoint endpoint = (data[0] & 1) ? Endpoint::kChatCompletions : Endpoint::kCompletions;
  RequestLimits limits;
  limits.vocab_size = (data[0] & 2) ? 258 : 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    const CompletionRequest r = parse_completion_request(body, endpoint, limits);
    StopStringFilter filter(r.stop);
    std::string out = filter.push(r.prompt);
    for (const auto& m : r.messages) out += filter.push(m.content);
    out += filter.flush();
    (void)r.cap.to_string();
    const std::string reply =
        ResponseFormatter(endpoint, "id", "model", 0).complete(out, "stop", {1, 2}).dump();
    if (reply.empty()) __builtin_trap();
  } catch (const gearbox::Error& e) {
    // As ApiServer answers a rejected request.
    const std::string reply = error_body(e.what(), "invalid_request_error", e.field_name()).dump();
    if (reply.empty()) __builtin_trap();
  }
  return 0;
}
