// UTF-8 checks, stop strings and response formatting.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gearbox/serve/server/api_response.hpp"
#include "gearbox/serve/server/stop_filter.hpp"
#include "gearbox/serve/server/utf8.hpp"

namespace gearbox::serve::server {
namespace {

TEST(Utf8, FindsTheFirstIllFormedByte) {
  EXPECT_EQ(first_invalid_utf8("plain"), std::nullopt);
  EXPECT_EQ(first_invalid_utf8("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"), std::nullopt);
  EXPECT_EQ(first_invalid_utf8("ab\x80"), 2u);             // stray continuation
  EXPECT_EQ(first_invalid_utf8("a\xc0\xaf"), 1u);          // overlong
  EXPECT_EQ(first_invalid_utf8("a\xed\xa0\x80"), 1u);      // surrogate
  EXPECT_EQ(first_invalid_utf8("a\xf4\x90\x80\x80"), 1u);  // above U+10FFFF
  EXPECT_EQ(first_invalid_utf8("a\xe2\x82"), 1u);          // truncated
}

TEST(Utf8, HoldsBackOnlyUnfinishedCharacters) {
  EXPECT_EQ(utf8_complete_prefix("ab"), 2u);
  EXPECT_EQ(utf8_complete_prefix("a\xe2\x82"), 1u);
  EXPECT_EQ(utf8_complete_prefix("a\xe2\x82\xac"), 4u);
  EXPECT_EQ(utf8_complete_prefix("a\xf0"), 1u);
  EXPECT_EQ(utf8_complete_prefix("a\xff"), 2u);  // not a lead byte: nothing to wait for
}

TEST(StopStringFilter, CutsAtTheFirstStopAcrossPieces) {
  StopStringFilter f({"END", "\n\n"});
  std::string out;
  for (const char* piece : {"Hello ", "wor", "ld E", "N", "D and more"}) out += f.push(piece);
  EXPECT_EQ(out, "Hello world ");
  EXPECT_TRUE(f.stopped());
  EXPECT_EQ(f.push("x"), "");
  EXPECT_EQ(f.flush(), "");
}

TEST(StopStringFilter, ReleasesHeldTextThatDidNotBecomeAStop) {
  StopStringFilter f({"END"});
  EXPECT_EQ(f.push("abE"), "ab");
  EXPECT_EQ(f.push("Nx"), "ENx");
  EXPECT_EQ(f.push("\xe2\x82"), "");  // half a euro sign
  EXPECT_EQ(f.push("\xac!"), "\xe2\x82\xac!");
  EXPECT_EQ(f.push("E"), "");
  EXPECT_EQ(f.flush(), "E");
  EXPECT_FALSE(f.stopped());
}

TEST(ResponseFormatter, ChatStreamChunksEndWithDone) {
  ResponseFormatter fmt(Endpoint::kChatCompletions, "chatcmpl-1", "m", 42);
  const std::string first = fmt.chunk("Hi", true);
  ASSERT_EQ(first.rfind("data: ", 0), 0u);
  ASSERT_EQ(first.substr(first.size() - 2), "\n\n");
  auto j = nlohmann::json::parse(first.substr(6));
  EXPECT_EQ(j["object"], "chat.completion.chunk");
  EXPECT_EQ(j["id"], "chatcmpl-1");
  EXPECT_EQ(j["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["delta"]["content"], "Hi");
  EXPECT_TRUE(j["choices"][0]["finish_reason"].is_null());
  auto later = nlohmann::json::parse(fmt.chunk("!", false).substr(6));
  EXPECT_FALSE(later["choices"][0]["delta"].contains("role"));
  const std::string end = fmt.finish("stop", {3, 2}, true);
  EXPECT_EQ(end.substr(end.size() - 14), "data: [DONE]\n\n");
  const auto last = nlohmann::json::parse(end.substr(6, end.find("\n\n") - 6));
  EXPECT_EQ(last["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(last["usage"]["total_tokens"], 5);
}

TEST(ResponseFormatter, CompletionBodyAndInvalidBytesAreReplaced) {
  ResponseFormatter fmt(Endpoint::kCompletions, "cmpl-1", "m", 1);
  const auto j = fmt.complete("ok\xff", "length", {4, 1});
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["choices"][0]["text"], "ok\xef\xbf\xbd");
  EXPECT_EQ(j["usage"]["prompt_tokens"], 4);
  EXPECT_EQ(j["usage"]["completion_tokens"], 1);
  const auto e = error_body("bad", "invalid_request_error", "max_tokens");
  EXPECT_EQ(e["error"]["param"], "max_tokens");
  EXPECT_TRUE(error_body("x", "y", "")["error"]["param"].is_null());
}

}  // namespace
}  // namespace gearbox::serve::server
