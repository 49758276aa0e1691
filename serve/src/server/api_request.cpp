#include "gearbox/serve/server/api_request.hpp"

#include <cmath>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "gearbox/core/error.hpp"
#include "gearbox/serve/server/utf8.hpp"

namespace gearbox::serve::server {
namespace {

using Json = nlohmann::json;

std::string type_name(const Json& v) {
  if (v.is_number_integer()) return "integer";
  if (v.is_number_float()) return "number";
  return v.type_name();
}

// A short rendering of a value for "found ..." (never the whole of a huge string, never a
// recursive rendering of a nested one, never cut inside a UTF-8 character).
std::string brief(const Json& v) {
  if (v.is_structured()) return type_name(v) + " of " + std::to_string(v.size());
  std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > 40)
    s = s.substr(0, utf8_complete_prefix(std::string_view(s).substr(0, 37))) + "...";
  return s;
}

// Byte offset of the first '[' or '{' (outside strings) that opens a value nested deeper than
// `max_depth`, or nullopt. Checked before parsing, so that neither the parser's document nor
// anything walking it grows with a body of nothing but brackets.
std::optional<std::size_t> too_deep_at(std::string_view body, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false, escaped = false;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

[[noreturn]] void bad(const std::string& field, const std::string& expected,
                      const std::string& found) {
  throw Error::input("invalid request").field(field).expected(expected).found(found);
}

[[noreturn]] void wrong_type(const std::string& field, const std::string& expected, const Json& v) {
  bad(field, expected, type_name(v));
}

bool get_bool(const Json& v, const std::string& field) {
  if (!v.is_boolean()) wrong_type(field, "boolean", v);
  return v.get<bool>();
}

const std::string& get_string(const Json& v, const std::string& field) {
  if (!v.is_string()) wrong_type(field, "string", v);
  return v.get_ref<const std::string&>();
}

std::int64_t get_integer(const Json& v, const std::string& field, std::int64_t lo,
                         std::int64_t hi) {
  const std::string range = "integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(hi)) bad(field, range, brief(v));
    if (lo > 0 && u < static_cast<std::uint64_t>(lo)) bad(field, range, brief(v));
    return static_cast<std::int64_t>(u);
  }
  if (!v.is_number_integer()) wrong_type(field, range, v);
  const auto i = v.get<std::int64_t>();
  if (i < lo || i > hi) bad(field, range, brief(v));
  return i;
}

double get_number(const Json& v, const std::string& field, double lo, double hi,
                  bool lo_open = false) {
  const std::string range = std::string("number in ") + (lo_open ? "(" : "[") + Json(lo).dump() +
                            ", " + Json(hi).dump() + "]";
  if (!v.is_number()) wrong_type(field, range, v);
  const double d = v.get<double>();
  if (!std::isfinite(d) || d < lo || d > hi || (lo_open && d == lo)) bad(field, range, brief(v));
  return d;
}

std::vector<std::string> parse_stop(const Json& v, const RequestLimits& lim) {
  std::vector<std::string> out;
  auto one = [&](const Json& s, const std::string& field) {
    const std::string& text = get_string(s, field);
    if (text.empty() || text.size() > lim.max_stop_bytes) {
      bad(field, "1 to " + std::to_string(lim.max_stop_bytes) + " bytes",
          std::to_string(text.size()) + " bytes");
    }
    out.push_back(text);
  };
  if (v.is_null()) return out;
  if (v.is_string()) {
    one(v, "stop");
    return out;
  }
  if (!v.is_array()) wrong_type("stop", "string or array of strings", v);
  if (v.size() > lim.max_stop) {
    bad("stop", "at most " + std::to_string(lim.max_stop) + " strings", std::to_string(v.size()));
  }
  for (std::size_t i = 0; i < v.size(); ++i) one(v[i], "stop[" + std::to_string(i) + "]");
  return out;
}

CapSpec parse_cap(const Json& v) {
  if (!v.is_object())
    wrong_type("cap", "object like {\"policy\": \"streaming\", \"window\": 1024}", v);
  CapSpec cap;
  auto it = v.find("policy");
  if (it == v.end()) bad("cap.policy", "a policy name", "nothing");
  cap.policy = get_string(*it, "cap.policy");
  auto plain = [](const std::string& s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-' || c == '.';
      if (!ok) return false;
    }
    return true;
  };
  const bool spelling_ok = !cap.policy.empty() && cap.policy.size() <= 256 &&
                           cap.policy.find_first_not_of(
                               "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                               "_-.:=,+") == std::string::npos;
  if (!spelling_ok) {
    bad("cap.policy", "a policy spelling like streaming:sink=4,window=1024", brief(*it));
  }
  if (v.size() > 17) bad("cap", "at most 16 knobs", std::to_string(v.size() - 1));
  for (auto kv = v.begin(); kv != v.end(); ++kv) {
    if (kv.key() == "policy") continue;
    const std::string field = "cap." + kv.key();
    if (!plain(kv.key())) bad(field, "a knob name of letters, digits, '_', '-', '.'", kv.key());
    const Json& val = kv.value();
    std::string text;
    if (val.is_number_integer()) {
      text = val.dump();
    } else if (val.is_number_float()) {
      if (!std::isfinite(val.get<double>())) bad(field, "a finite number", brief(val));
      text = val.dump();
    } else if (val.is_boolean()) {
      text = val.get<bool>() ? "true" : "false";
    } else if (val.is_string()) {
      text = val.get<std::string>();
      if (!plain(text)) bad(field, "a value of letters, digits, '_', '-', '.'", brief(val));
    } else {
      wrong_type(field, "number, boolean or string", val);
    }
    cap.knobs.emplace_back(kv.key(), text);
  }
  return cap;
}

std::vector<ChatMessage> parse_messages(const Json& v, const RequestLimits& lim) {
  if (!v.is_array()) wrong_type("messages", "array of messages", v);
  if (v.empty() || v.size() > lim.max_messages) {
    bad("messages", "1 to " + std::to_string(lim.max_messages) + " messages",
        std::to_string(v.size()));
  }
  std::vector<ChatMessage> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string at = "messages[" + std::to_string(i) + "]";
    const Json& m = v[i];
    if (!m.is_object()) wrong_type(at, "object with role and content", m);
    ChatMessage msg;
    bool has_content = false;
    for (auto kv = m.begin(); kv != m.end(); ++kv) {
      const std::string field = at + "." + kv.key();
      if (kv.key() == "role") {
        msg.role = get_string(kv.value(), field);
        if (msg.role != "system" && msg.role != "user" && msg.role != "assistant" &&
            msg.role != "developer") {
          bad(field, "system, developer, user or assistant", brief(kv.value()));
        }
        if (msg.role == "developer") msg.role = "system";
      } else if (kv.key() == "content") {
        has_content = true;
        const Json& c = kv.value();
        if (c.is_string()) {
          msg.content = c.get<std::string>();
        } else if (c.is_array()) {  // content parts: only text parts are understood
          for (std::size_t p = 0; p < c.size(); ++p) {
            const std::string pf = field + "[" + std::to_string(p) + "]";
            if (!c[p].is_object()) wrong_type(pf, "object {type: text, text}", c[p]);
            auto type = c[p].find("type");
            auto text = c[p].find("text");
            if (type == c[p].end() || !type->is_string() || *type != "text") {
              bad(pf + ".type", "\"text\"", type == c[p].end() ? "nothing" : brief(*type));
            }
            if (text == c[p].end()) bad(pf + ".text", "string", "nothing");
            msg.content += get_string(*text, pf + ".text");
          }
        } else {
          wrong_type(field, "string or array of text parts", c);
        }
      } else if (kv.key() == "name") {
        get_string(kv.value(), field);
      } else {
        bad(field, "no such field (role, content, name)", "unknown field");
      }
    }
    if (msg.role.empty()) bad(at + ".role", "system, user or assistant", "nothing");
    if (!has_content) bad(at + ".content", "string", "nothing");
    out.push_back(std::move(msg));
  }
  return out;
}

void parse_prompt(const Json& v, CompletionRequest& req, const RequestLimits& lim,
                  bool in_batch = false) {
  if (v.is_string()) {
    req.prompt = v.get<std::string>();
    return;
  }
  if (!v.is_array()) wrong_type("prompt", "string, [string] or array of token ids", v);
  if (v.size() == 1 && v[0].is_string()) {
    req.prompt = v[0].get<std::string>();
    return;
  }
  if (!in_batch && !v.empty() && (v[0].is_array() || (v.size() > 1 && v[0].is_string()))) {
    if (v.size() > 1)
      bad("prompt", "one prompt per request", std::to_string(v.size()) + " prompts");
    return parse_prompt(v[0], req, lim, true);  // a batch of one: [[ids]]
  }
  if (v.empty() || v.size() > lim.max_prompt_tokens) {
    bad("prompt", "1 to " + std::to_string(lim.max_prompt_tokens) + " token ids",
        std::to_string(v.size()));
  }
  const std::int64_t top =
      lim.vocab_size > 0 ? lim.vocab_size - 1 : std::numeric_limits<Token>::max();
  req.prompt_is_tokens = true;
  req.prompt_tokens.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i].is_string()) bad("prompt", "one string or token ids", "several strings");
    req.prompt_tokens.push_back(
        static_cast<Token>(get_integer(v[i], "prompt[" + std::to_string(i) + "]", 0, top)));
  }
}

}  // namespace

CompletionRequest parse_completion_request(std::string_view body, Endpoint endpoint,
                                           const RequestLimits& limits) {
  if (auto off = first_invalid_utf8(body)) {
    throw Error::input("request body is not valid UTF-8")
        .at_offset("request body", *off)
        .expected("UTF-8 text");
  }
  if (auto off = too_deep_at(body, limits.max_depth)) {
    throw Error::input("JSON nested too deeply")
        .at_offset("request body", *off)
        .expected("at most " + std::to_string(limits.max_depth) + " levels of arrays and objects");
  }
  Json doc;
  try {
    doc = Json::parse(body.begin(), body.end());
  } catch (const Json::parse_error& e) {
    throw Error::input("malformed JSON")
        .at_offset("request body", e.byte > 0 ? e.byte - 1 : 0)
        .expected("one JSON object")
        .found(e.what());
  } catch (const Json::exception& e) {  // e.g. out_of_range: a number beyond double
    throw Error::input("malformed JSON")
        .at_offset("request body", 0)
        .expected("numbers within double range")
        .found(e.what());
  }
  if (!doc.is_object()) wrong_type("(body)", "JSON object", doc);

  CompletionRequest req;
  req.endpoint = endpoint;
  const bool chat = endpoint == Endpoint::kChatCompletions;
  bool has_input = false;
  bool chat_logprobs = false;
  std::optional<int> top_logprobs;
  for (auto kv = doc.begin(); kv != doc.end(); ++kv) {
    const std::string& key = kv.key();
    const Json& v = kv.value();
    if (key == "model") {
      req.model = get_string(v, key);
    } else if (!chat && key == "prompt") {
      parse_prompt(v, req, limits);
      has_input = true;
    } else if (chat && key == "messages") {
      req.messages = parse_messages(v, limits);
      has_input = true;
    } else if (key == "max_tokens" || (chat && key == "max_completion_tokens")) {
      if (!v.is_null()) req.max_tokens = get_integer(v, key, 0, limits.max_tokens);
    } else if (!chat && key == "logprobs") {
      if (!v.is_null())
        req.logprobs = static_cast<int>(get_integer(v, key, 0, limits.max_logprobs));
    } else if (!chat && key == "echo") {
      if (!v.is_null()) req.echo = get_bool(v, key);
    } else if (chat && key == "logprobs") {
      if (!v.is_null() && get_bool(v, key)) chat_logprobs = true;
    } else if (chat && key == "top_logprobs") {
      if (!v.is_null())
        top_logprobs = static_cast<int>(get_integer(v, key, 0, limits.max_logprobs));
    } else if (key == "temperature") {
      if (!v.is_null()) req.temperature = get_number(v, key, 0.0, 2.0);
    } else if (key == "top_p") {
      if (!v.is_null()) req.top_p = get_number(v, key, 0.0, 1.0, /*lo_open=*/true);
    } else if (key == "seed") {
      if (!v.is_null()) {
        req.seed =
            static_cast<std::uint64_t>(get_integer(v, key, std::numeric_limits<std::int64_t>::min(),
                                                   std::numeric_limits<std::int64_t>::max()));
      }
    } else if (key == "stop") {
      req.stop = parse_stop(v, limits);
    } else if (key == "stream") {
      if (!v.is_null()) req.stream = get_bool(v, key);
    } else if (key == "stream_options") {
      if (v.is_null()) continue;
      if (!v.is_object()) wrong_type(key, "object {include_usage}", v);
      for (auto o = v.begin(); o != v.end(); ++o) {
        if (o.key() != "include_usage") bad(key + "." + o.key(), "include_usage", "unknown field");
        req.include_usage = get_bool(o.value(), key + ".include_usage");
      }
    } else if (key == "n") {
      if (!v.is_null()) get_integer(v, key, 1, 1);
    } else if (key == "user") {
      if (!v.is_null()) get_string(v, key);
    } else if (key == "min_tokens") {
      if (!v.is_null()) {
        req.min_tokens = static_cast<std::size_t>(get_integer(v, key, 0, limits.max_tokens));
      }
    } else if (key == "ignore_eos") {
      req.ignore_eos = get_bool(v, key);
    } else if (key == "cap") {
      if (!v.is_null()) req.cap = parse_cap(v);
    } else {
      bad(key, "a known field", "unknown field");
    }
  }
  if (!has_input) bad(chat ? "messages" : "prompt", "present", "nothing");
  if (chat && top_logprobs && !chat_logprobs)
    bad("top_logprobs", "logprobs: true beside it", "none");
  if (chat && chat_logprobs) req.logprobs = top_logprobs.value_or(0);
  if (req.max_tokens && *req.max_tokens == 0 && !req.echo) {
    bad("max_tokens",
        "integer in [1, " + std::to_string(limits.max_tokens) + "] (0 only with echo)", "0");
  }
  if (req.stream && req.echo)
    bad("stream", "false when echo is asked for (it is served whole)", "true");
  return req;
}

}  // namespace gearbox::serve::server
