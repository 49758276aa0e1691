#include "gearbox/serve/server/api_response.hpp"

namespace gearbox::serve::server {
namespace {

using Json = nlohmann::json;

Json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}}};
}

// Model text may end mid-character only if the model emits invalid bytes: replace, not throw.
std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

ResponseFormatter::ResponseFormatter(Endpoint endpoint, std::string id, std::string model,
                                     std::int64_t created)
    : endpoint_(endpoint), id_(std::move(id)), model_(std::move(model)), created_(created) {}

Json ResponseFormatter::envelope(bool streaming) const {
  const bool chat = endpoint_ == Endpoint::kChatCompletions;
  const char* object =
      chat ? (streaming ? "chat.completion.chunk" : "chat.completion") : "text_completion";
  return {{"id", id_}, {"object", object}, {"created", created_}, {"model", model_}};
}

Json ResponseFormatter::complete(const std::string& text, const std::string& finish_reason,
                                 const Usage& usage, const Json& logprobs) const {
  Json out = envelope(false);
  Json choice = {{"index", 0}, {"finish_reason", finish_reason}, {"logprobs", logprobs}};
  if (endpoint_ == Endpoint::kChatCompletions) {
    choice["message"] = {{"role", "assistant"}, {"content", text}};
  } else {
    choice["text"] = text;
  }
  out["choices"] = Json::array({choice});
  out["usage"] = usage_json(usage);
  // Round-trip through replace so that invalid bytes never make the caller's dump() throw.
  return Json::parse(dump(out));
}

std::string ResponseFormatter::chunk(const std::string& delta, bool first,
                                     const Json& logprobs) const {
  Json out = envelope(true);
  Json choice = {{"index", 0}, {"finish_reason", nullptr}, {"logprobs", logprobs}};
  if (endpoint_ == Endpoint::kChatCompletions) {
    choice["delta"] =
        first ? Json{{"role", "assistant"}, {"content", delta}} : Json{{"content", delta}};
  } else {
    choice["text"] = delta;
  }
  out["choices"] = Json::array({choice});
  return sse_event(out);
}

std::string ResponseFormatter::finish(const std::string& finish_reason, const Usage& usage,
                                      bool usage_chunk, const Json& logprobs) const {
  Json last = envelope(true);
  Json choice = {{"index", 0}, {"finish_reason", finish_reason}, {"logprobs", logprobs}};
  if (endpoint_ == Endpoint::kChatCompletions) {
    choice["delta"] = Json::object();
  } else {
    choice["text"] = "";
  }
  last["choices"] = Json::array({choice});
  last["usage"] = usage_json(usage);
  std::string out = sse_event(last);
  if (usage_chunk) {
    Json u = envelope(true);
    u["choices"] = Json::array();
    u["usage"] = usage_json(usage);
    out += sse_event(u);
  }
  out += "data: [DONE]\n\n";
  return out;
}

Json completion_logprobs(const std::vector<LogprobEntry>& entries) {
  Json tokens = Json::array(), lps = Json::array(), tops = Json::array(), offsets = Json::array();
  for (const auto& e : entries) {
    tokens.push_back(e.text);
    offsets.push_back(e.offset);
    if (!e.logprob) {
      lps.push_back(nullptr);
      tops.push_back(nullptr);
      continue;
    }
    lps.push_back(*e.logprob);
    Json top = Json::object();
    for (const auto& [t, lp] : e.top)
      if (!top.contains(t)) top[t] = lp;  // tokens of equal text: the likelier one
    tops.push_back(std::move(top));
  }
  return {{"tokens", tokens},
          {"token_logprobs", lps},
          {"top_logprobs", tops},
          {"text_offset", offsets}};
}

Json chat_logprobs(const std::vector<LogprobEntry>& entries) {
  auto bytes = [](const std::string& s) {
    Json b = Json::array();
    for (unsigned char c : s) b.push_back(static_cast<int>(c));
    return b;
  };
  Json content = Json::array();
  for (const auto& e : entries) {
    Json top = Json::array();
    for (const auto& [t, lp] : e.top)
      top.push_back({{"token", t}, {"logprob", lp}, {"bytes", bytes(t)}});
    content.push_back({{"token", e.text},
                       {"logprob", e.logprob ? Json(*e.logprob) : Json(nullptr)},
                       {"bytes", bytes(e.text)},
                       {"top_logprobs", std::move(top)}});
  }
  return {{"content", std::move(content)}};
}

Json error_body(const std::string& message, const std::string& type, const std::string& param) {
  Json err = {{"message", message}, {"type", type}, {"code", nullptr}};
  err["param"] = param.empty() ? Json(nullptr) : Json(param);
  return Json::parse(dump(Json{{"error", err}}));
}

std::string sse_event(const Json& payload) {
  return "data: " + dump(payload) + "\n\n";
}

}  // namespace gearbox::serve::server
