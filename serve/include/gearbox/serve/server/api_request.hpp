// Parsing and validation of OpenAI-style request bodies (/v1/completions and
// /v1/chat/completions) into plain structs. Every rejection is a gearbox::Error of kind input
// naming the field (e.g. "max_tokens", "messages[1].content") or the byte offset, what was
// expected and what was found; the HTTP layer turns it into a 400.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gearbox/serve/server/model_runner.hpp"

namespace gearbox::serve::server {

enum class Endpoint { kCompletions, kChatCompletions };

struct CompletionRequest {
  Endpoint endpoint = Endpoint::kCompletions;
  std::string model;                 // as sent; empty when absent
  std::string prompt;                // completions: the prompt text
  std::vector<Token> prompt_tokens;  // completions: token ids, when `prompt` was given as ids
  bool prompt_is_tokens = false;
  std::vector<ChatMessage> messages;       // chat
  std::optional<std::int64_t> max_tokens;  // absent: the endpoint's default
  double temperature = 1.0;                // 0 = greedy
  double top_p = 1.0;
  std::optional<std::uint64_t> seed;
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool ignore_eos = false;     // extension (as in vLLM): keep going past end-of-generation
  std::size_t min_tokens = 0;  // extension (as in vLLM): no end-of-generation before this many
  CapSpec cap;                 // extension: long-context policy; empty policy = server default
  // Log-probabilities: completions `logprobs: N` and chat `logprobs: true` (+ `top_logprobs:
  // N`) give each generated token's logprob with N alternatives (absent: none).
  std::optional<int> logprobs;
  // Completions `echo`: the prompt is returned before the text, with its tokens' logprobs
  // when `logprobs` is given; `max_tokens: 0` (only with echo) then generates nothing.
  bool echo = false;
};

struct RequestLimits {
  std::int64_t max_tokens = 1 << 20;        // largest max_tokens accepted
  std::size_t max_stop = 4;                 // stop strings per request
  std::size_t max_stop_bytes = 256;         // bytes per stop string
  std::size_t max_messages = 4096;          // chat messages per request
  std::size_t max_prompt_tokens = 1 << 20;  // token-id prompts
  int vocab_size = 0;                       // token ids must be < this (0 = not checked)
  std::size_t max_depth = 32;               // nesting of arrays and objects in the body
  int max_logprobs = 20;                    // alternatives per token (logprobs, top_logprobs)
};

// Parses `body` for `endpoint`. Throws gearbox::Error (input) on malformed JSON (with the byte
// offset), invalid UTF-8, nesting beyond limits.max_depth (offset), a field of the wrong type, an
// unknown field, or a value out of range. A completions prompt may also be a batch of one
// (`["text"]`, `[[ids]]`, as lm-eval sends); more than one prompt is refused ("prompt").
CompletionRequest parse_completion_request(std::string_view body, Endpoint endpoint,
                                           const RequestLimits& limits = {});

}  // namespace gearbox::serve::server
