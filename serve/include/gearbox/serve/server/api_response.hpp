// OpenAI-format response bodies: whole completions, server-sent-event chunks ending in
// `data: [DONE]`, and error objects.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "gearbox/serve/server/api_request.hpp"

namespace gearbox::serve::server {

struct Usage {
  std::size_t prompt_tokens = 0;
  std::size_t completion_tokens = 0;
  std::size_t cached_tokens = 0;  // prompt tokens served from the prefix cache
};

// Formats the responses of one request (one id, model and creation time for all its chunks).
class ResponseFormatter {
 public:
  ResponseFormatter(Endpoint endpoint, std::string id, std::string model, std::int64_t created);

  // The non-streaming body: choices[0] with the text (or message), finish_reason, logprobs
  // (null unless given), and usage.
  nlohmann::json complete(const std::string& text, const std::string& finish_reason,
                          const Usage& usage,
                          const nlohmann::json& logprobs = nlohmann::json()) const;
  // One SSE event "data: {...}\n\n" carrying `delta` (the chat role on the first chunk) and
  // `logprobs` (the records of this chunk's tokens; null when none were asked for).
  std::string chunk(const std::string& delta, bool first,
                    const nlohmann::json& logprobs = nullptr) const;
  // The closing events: a chunk with finish_reason, usage and `logprobs` (the records not sent
  // yet, or null), a usage-only chunk when `usage_chunk` (stream_options.include_usage), then
  // "data: [DONE]\n\n".
  std::string finish(const std::string& finish_reason, const Usage& usage, bool usage_chunk,
                     const nlohmann::json& logprobs = nullptr) const;

  const std::string& id() const { return id_; }

 private:
  nlohmann::json envelope(bool streaming) const;

  Endpoint endpoint_;
  std::string id_;
  std::string model_;
  std::int64_t created_;
};

// One scored token of a response: its bytes as the model gave them, its logprob (nullopt for
// the first prompt token, which nothing precedes), and the alternatives there.
struct LogprobEntry {
  std::string text;
  std::size_t offset = 0;  // where the token's text begins in the choice's text
  std::optional<float> logprob;
  std::vector<std::pair<std::string, float>> top;  // most likely first
};

// The completions `logprobs` object: {tokens, token_logprobs, top_logprobs (objects token ->
// logprob; null where logprob is), text_offset (each entry's offset)}.
nlohmann::json completion_logprobs(const std::vector<LogprobEntry>& entries);
// The chat `logprobs` object: {content: [{token, logprob, bytes, top_logprobs: [{token,
// logprob, bytes}]}]}.
nlohmann::json chat_logprobs(const std::vector<LogprobEntry>& entries);

// {"error": {"message", "type", "param", "code"}}: param is the offending field or null.
nlohmann::json error_body(const std::string& message, const std::string& type,
                          const std::string& param);

// "data: <json>\n\n".
std::string sse_event(const nlohmann::json& payload);

}  // namespace gearbox::serve::server
