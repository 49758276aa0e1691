// Request parsing: valid bodies become the right structs; every malformed body is an input
// error that names the offending field or offset.
#include "gearbox/serve/server/api_request.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "gearbox/core/error.hpp"
#include "gearbox/serve/server/utf8.hpp"

namespace gearbox::serve::server {
namespace {

CompletionRequest parse_chat(const std::string& body) {
  return parse_completion_request(body, Endpoint::kChatCompletions);
}
CompletionRequest parse_text(const std::string& body) {
  return parse_completion_request(body, Endpoint::kCompletions);
}

// The field named by the error `body` raises on `endpoint`, or "<no error>".
std::string error_field(const std::string& body, Endpoint endpoint = Endpoint::kCompletions) {
  try {
    parse_completion_request(body, endpoint);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    return e.field_name().empty() ? "@" + std::to_string(e.offset().value_or(999999))
                                  : e.field_name();
  }
  return "<no error>";
}

TEST(ApiRequest, ParsesFullChatRequest) {
  const auto r = parse_chat(R"({"model":"m","messages":[{"role":"system","content":"be brief"},
      {"role":"user","content":[{"type":"text","text":"hi "},{"type":"text","text":"there"}]}],
      "max_tokens":7,"temperature":0.5,"top_p":0.9,"seed":-3,"stop":["\n","END"],"stream":true,
      "stream_options":{"include_usage":true},"cap":{"policy":"streaming","sink":4,"window":1024}})");
  EXPECT_EQ(r.endpoint, Endpoint::kChatCompletions);
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[1].content, "hi there");
  EXPECT_EQ(r.max_tokens, 7);
  EXPECT_DOUBLE_EQ(r.temperature, 0.5);
  EXPECT_DOUBLE_EQ(r.top_p, 0.9);
  EXPECT_EQ(r.seed, static_cast<std::uint64_t>(-3));
  EXPECT_EQ(r.stop, (std::vector<std::string>{"\n", "END"}));
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_EQ(r.cap.to_string(), "streaming:sink=4,window=1024");
}

TEST(ApiRequest, KnobsJoinAComposedSpellingsLastTerm) {
  // The policy spelling may carry knobs of its own; extra keys join the last term's list.
  EXPECT_EQ(parse_text(R"({"prompt":"a","cap":{"policy":"streaming:sink=4","window":64}})")
                .cap.to_string(),
            "streaming:sink=4,window=64");
  EXPECT_EQ(parse_text(R"({"prompt":"a","cap":{"policy":"quant:int8+streaming","window":64}})")
                .cap.to_string(),
            "quant:int8+streaming:window=64");
  EXPECT_EQ(parse_text(R"({"prompt":"a","cap":{"policy":"streaming:window=8+quant:int4"}})")
                .cap.to_string(),
            "streaming:window=8+quant:int4");
}

TEST(ApiRequest, DefaultsWhenFieldsAbsent) {
  const auto r = parse_text(R"({"prompt":"Once"})");
  EXPECT_EQ(r.prompt, "Once");
  EXPECT_FALSE(r.max_tokens.has_value());
  EXPECT_DOUBLE_EQ(r.temperature, 1.0);
  EXPECT_DOUBLE_EQ(r.top_p, 1.0);
  EXPECT_FALSE(r.seed.has_value());
  EXPECT_TRUE(r.stop.empty());
  EXPECT_FALSE(r.stream);
  EXPECT_TRUE(r.cap.policy.empty());
  EXPECT_EQ(r.cap.to_string(), "");
}

TEST(ApiRequest, PromptAsSingleStringArrayOrTokenIds) {
  EXPECT_EQ(parse_text(R"({"prompt":["abc"]})").prompt, "abc");
  const auto r = parse_text(R"({"prompt":[1,5,9],"stop":"x","ignore_eos":true,"min_tokens":4})");
  EXPECT_TRUE(r.prompt_is_tokens);
  EXPECT_EQ(r.prompt_tokens, (std::vector<Token>{1, 5, 9}));
  EXPECT_EQ(r.stop, (std::vector<std::string>{"x"}));
  EXPECT_TRUE(r.ignore_eos);
  EXPECT_EQ(r.min_tokens, 4u);
  EXPECT_EQ(error_field(R"({"prompt":"a","min_tokens":-1})"), "min_tokens");
  RequestLimits lim;
  lim.vocab_size = 9;
  EXPECT_THROW(parse_completion_request(R"({"prompt":[1,9]})", Endpoint::kCompletions, lim), Error);
}

TEST(ApiRequest, NamesTheFieldOfEachBadValue) {
  EXPECT_EQ(error_field(R"({"prompt":"a","max_tokens":-1})"), "max_tokens");
  EXPECT_EQ(error_field(R"({"prompt":"a","max_tokens":0})"), "max_tokens");
  EXPECT_EQ(error_field(R"({"prompt":"a","max_tokens":99999999999999999999})"), "max_tokens");
  EXPECT_EQ(error_field(R"({"prompt":"a","max_tokens":1e300})"), "max_tokens");
  EXPECT_EQ(error_field(R"({"prompt":"a","max_tokens":"5"})"), "max_tokens");
  EXPECT_EQ(error_field(R"({"prompt":"a","max_tokens":2.5})"), "max_tokens");
  EXPECT_EQ(error_field(R"({"prompt":"a","temperature":-0.1})"), "temperature");
  EXPECT_EQ(error_field(R"({"prompt":"a","temperature":"hot"})"), "temperature");
  EXPECT_EQ(error_field(R"({"prompt":"a","top_p":0})"), "top_p");
  EXPECT_EQ(error_field(R"({"prompt":"a","top_p":1.5})"), "top_p");
  EXPECT_EQ(error_field(R"({"prompt":"a","seed":1.5})"), "seed");
  EXPECT_EQ(error_field(R"({"prompt":"a","stop":[1]})"), "stop[0]");
  EXPECT_EQ(error_field(R"({"prompt":"a","stop":["a","b","c","d","e"]})"), "stop");
  EXPECT_EQ(error_field(R"({"prompt":"a","stop":""})"), "stop");
  EXPECT_EQ(error_field(R"({"prompt":"a","stream":"yes"})"), "stream");
  EXPECT_EQ(error_field(R"({"prompt":"a","n":2})"), "n");
  EXPECT_EQ(error_field(R"({"prompt":"a","frobnicate":1})"), "frobnicate");
  EXPECT_EQ(error_field(R"({"prompt":"a","stream_options":{"x":1}})"), "stream_options.x");
  EXPECT_EQ(error_field(R"({"prompt":7})"), "prompt");
  EXPECT_EQ(error_field(R"({"prompt":[-1]})"), "prompt[0]");
  EXPECT_EQ(error_field(R"({"max_tokens":3})"), "prompt");
  EXPECT_EQ(error_field(R"([1,2])"), "(body)");
  EXPECT_EQ(error_field(R"({"prompt":"a","cap":"streaming"})"), "cap");
  EXPECT_EQ(error_field(R"({"prompt":"a","cap":{"window":3}})"), "cap.policy");
  EXPECT_EQ(error_field(R"({"prompt":"a","cap":{"policy":"s","window":[3]}})"), "cap.window");
  EXPECT_EQ(error_field(R"({"prompt":"a","cap":{"policy":"s x"}})"), "cap.policy");
  // Chat-only and completion-only fields are unknown on the other endpoint.
  EXPECT_EQ(error_field(R"({"prompt":"a","messages":[]})"), "messages");
  EXPECT_EQ(error_field(R"({"messages":[{"role":"user","content":"a"}],"prompt":"a"})",
                        Endpoint::kChatCompletions),
            "prompt");
}

TEST(ApiRequest, LogprobsEchoAndBatchOfOne) {
  const auto c = parse_text(R"({"prompt":[[3,4,5]],"logprobs":5,"echo":true,"max_tokens":0})");
  EXPECT_EQ(c.prompt_tokens, (std::vector<Token>{3, 4, 5}));
  EXPECT_EQ(c.logprobs, 5);
  EXPECT_TRUE(c.echo);
  EXPECT_EQ(c.max_tokens, 0);
  EXPECT_EQ(parse_text(R"({"prompt":["x"],"logprobs":null})").logprobs, std::nullopt);
  const auto chat = Endpoint::kChatCompletions;
  const std::string msgs = R"("messages":[{"role":"user","content":"a"}])";
  EXPECT_EQ(parse_chat("{" + msgs + R"(,"logprobs":true,"top_logprobs":3})").logprobs, 3);
  EXPECT_EQ(parse_chat("{" + msgs + R"(,"logprobs":true})").logprobs, 0);
  EXPECT_EQ(parse_chat("{" + msgs + R"(,"logprobs":false})").logprobs, std::nullopt);
  // Bounded, and each bad value names its field.
  EXPECT_EQ(error_field(R"({"prompt":"a","logprobs":21})"), "logprobs");
  EXPECT_EQ(error_field(R"({"prompt":"a","logprobs":-1})"), "logprobs");
  EXPECT_EQ(error_field(R"({"prompt":"a","logprobs":true})"), "logprobs");
  EXPECT_EQ(error_field(R"({"prompt":"a","echo":"yes"})"), "echo");
  EXPECT_EQ(error_field(R"({"prompt":"a","max_tokens":0,"logprobs":1})"), "max_tokens");
  EXPECT_EQ(error_field(R"({"prompt":"a","echo":true,"stream":true})"), "stream");
  EXPECT_EQ(error_field(R"({"prompt":[[1],[2]]})"), "prompt");
  EXPECT_EQ(error_field(R"({"prompt":["a","b"]})"), "prompt");
  EXPECT_EQ(error_field(R"({"prompt":[[]]})"), "prompt");
  EXPECT_EQ(error_field(R"({"prompt":[[[1]]]})"), "prompt[0]");
  EXPECT_EQ(error_field("{" + msgs + R"(,"top_logprobs":2})", chat), "top_logprobs");
  EXPECT_EQ(error_field("{" + msgs + R"(,"logprobs":true,"top_logprobs":21})", chat),
            "top_logprobs");
  EXPECT_EQ(error_field("{" + msgs + R"(,"logprobs":1})", chat), "logprobs");
  EXPECT_EQ(error_field("{" + msgs + R"(,"echo":true})", chat), "echo");
  EXPECT_EQ(error_field("{" + msgs + R"(,"max_tokens":0})", chat), "max_tokens");
}

TEST(ApiRequest, NamesTheMessageFieldInChat) {
  const auto chat = Endpoint::kChatCompletions;
  EXPECT_EQ(error_field(R"({"messages":[]})", chat), "messages");
  EXPECT_EQ(error_field(R"({"messages":"hi"})", chat), "messages");
  EXPECT_EQ(
      error_field(R"({"messages":[{"role":"user","content":"a"},{"role":"bot","content":"b"}]})",
                  chat),
      "messages[1].role");
  EXPECT_EQ(error_field(R"({"messages":[{"role":"user"}]})", chat), "messages[0].content");
  EXPECT_EQ(error_field(R"({"messages":[{"role":"user","content":5}]})", chat),
            "messages[0].content");
  EXPECT_EQ(error_field(R"({"messages":[{"role":"user","content":"a","mood":1}]})", chat),
            "messages[0].mood");
  EXPECT_EQ(error_field(R"({"messages":[{"role":"user","content":[{"type":"image"}]}]})", chat),
            "messages[0].content[0].type");
}

TEST(ApiRequest, MalformedJsonAndInvalidUtf8GiveTheOffset) {
  EXPECT_EQ(error_field(R"({"prompt": "a",})"), "@15");
  EXPECT_EQ(error_field(""), "@0");
  EXPECT_EQ(error_field(R"({"prompt":"a","max_tokens":1e999})"), "@0");
  EXPECT_EQ(error_field("{\"prompt\":\"a\xff\"}"), "@12");
  EXPECT_EQ(error_field("{\"prompt\":\"\xed\xa0\x80\"}"), "@11");  // a UTF-16 surrogate
}

// Regressions for what fuzzing the parser and reasoning about 1 MiB bodies (the server's
// limit) found. Run on a thread with the default stack, as httplib's handler threads are.
void on_handler_stack(const std::function<void()>& f) {
  std::thread t(f);
  t.join();
}

TEST(ApiRequest, DeeplyNestedValuesAreRejectedWithoutDeepRecursion) {
  constexpr std::size_t kDepth = 1u << 19;  // a 1 MiB body of brackets
  const std::string deep = std::string(kDepth, '[') + std::string(kDepth, ']');
  on_handler_stack([&] {
    // Rejected at the first bracket past the limit, before a document is built. (A nested
    // "type" once crashed the server: the error's "found" rendered it recursively.)
    EXPECT_EQ(error_field(deep), "@32");
    const std::string chat =
        R"({"messages":[{"role":"user","content":[{"type":)" + deep + R"(,"text":"x"}]}]})";
    // 5 levels precede the brackets; the 28th bracket is the 33rd level.
    EXPECT_EQ(error_field(chat, Endpoint::kChatCompletions),
              "@" + std::to_string(chat.find("[[") + 27));
    // Brackets inside strings (escaped quotes too) do not count.
    const std::string text = R"({"prompt":"\")" + deep + R"("})";
    EXPECT_EQ(parse_text(text).prompt, "\"" + deep);
  });
  // Within the limit, the nested value is named, and described without rendering it.
  RequestLimits lim;
  try {
    parse_completion_request(R"({"messages":[{"role":"user","content":[{"type":)" +
                                 std::string(20, '[') + std::string(20, ']') +
                                 R"(,"text":"x"}]}]})",
                             Endpoint::kChatCompletions, lim);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.field_name(), "messages[0].content[0].type");
    EXPECT_NE(std::string(e.what()).find("array of 1"), std::string::npos) << e.what();
  }
}

TEST(ApiRequest, FoundValuesAreNotCutInsideACharacter) {
  try {
    parse_chat(R"({"messages":[{"role":")" + std::string(31, 'a') + "\u00e9\u00e9\u00e9\u00e9" +
               R"(","content":"x"}]})");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(first_invalid_utf8(what), std::nullopt) << what;
  }
}

}  // namespace
}  // namespace gearbox::serve::server
