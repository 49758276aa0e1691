// The server over the real engine on stories260K (skipped when the model file is absent):
// greedy completions reproduce the model's known text, through the scheduler and HTTP, with
// batched decode giving each stream the same tokens as a lone one.
#include "gearbox/serve/server/engine_runner.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "gearbox/core/error.hpp"
#include "gearbox/core/paths.hpp"
#include "gearbox/serve/server/http_server.hpp"
#include "gearbox/testing/data.hpp"

namespace gearbox::serve::server {
namespace {

std::unique_ptr<EngineRunner> load_stories(EngineRunnerOptions opt = {}) {
  const auto dir = models_dir();
  if (!dir || !std::filesystem::exists(*dir / "stories260K.gguf")) return nullptr;
  opt.threads = 1;
  return EngineRunner::load((*dir / "stories260K.gguf").string(), opt);
}

httplib::Client loopback(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(60, 0);
  return c;
}

std::unique_ptr<ApiServer> serve_on_free_port(EngineRunner& runner) {
  ServerOptions so;
  so.port = 0;
  auto server = std::make_unique<ApiServer>(runner, so);
  server->start();
  return server;
}

const std::string kKnown = "Once upon a time, there was a little girl named Lily.";

TEST(EngineRunner, ServesTheKnownStoryGreedily) {
  auto runner = load_stories();
  if (!runner) GEARBOX_SKIP_ABSENT("stories260K.gguf");
  EXPECT_EQ(runner->name(), "stories260K");
  EXPECT_EQ(runner->vocab_size(), 512);
  auto server = serve_on_free_port(*runner);
  const int port = server->port();
  auto c = loopback(port);
  // Four concurrent greedy requests (batched when their decodes overlap) each give the lone
  // greedy answer.
  std::vector<std::string> texts(4);
  std::vector<std::thread> th;
  for (int i = 0; i < 4; ++i) {
    th.emplace_back([&, i] {
      auto ci = loopback(port);
      auto r = ci.Post("/v1/completions", R"({"prompt":"","max_tokens":24,"temperature":0})",
                       "application/json");
      if (r && r->status == 200) {
        texts[i] = nlohmann::json::parse(r->body)["choices"][0]["text"];
      } else {
        texts[i] = r ? r->body : "transport error";
      }
    });
  }
  for (auto& t : th) t.join();
  for (const auto& t : texts) {
    // SentencePiece gives the first word its leading space.
    std::string trimmed = t.substr(t.find_first_not_of(' '));
    EXPECT_EQ(trimmed.substr(0, kKnown.size()), kKnown) << t;
  }
  // A prompt past the trained context of `full` is refused, naming the limit.
  std::string long_prompt;
  for (int i = 0; i < 3000; ++i) long_prompt += "a ";
  auto r =
      c.Post("/v1/completions", nlohmann::json{{"prompt", long_prompt}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("context limit"), std::string::npos) << r->body;
  // An unknown policy is a 400 naming `cap`.
  auto p = c.Post("/v1/completions", R"({"prompt":"a","cap":{"policy":"nonesuch"}})",
                  "application/json");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->status, 400);
  EXPECT_EQ(nlohmann::json::parse(p->body)["error"]["param"], "cap");
  server->stop();
}

TEST(EngineRunner, StreamingPolicyServesPastTheTrainedContext) {
  auto runner = load_stories();
  if (!runner) GEARBOX_SKIP_ABSENT("stories260K.gguf");
  const std::size_t full = runner->context_limit(CapSpec{});
  CapSpec streaming{"streaming", {{"sink", "4"}, {"window", "64"}}};
  EXPECT_GT(runner->context_limit(streaming), full);
  EXPECT_EQ(runner->kv_tokens(streaming, 100000), 69u);
  auto server = serve_on_free_port(*runner);
  const int port = server->port();
  auto c = loopback(port);
  std::string long_prompt;
  for (int i = 0; i < 1000; ++i) long_prompt += "the cat ";
  auto r = c.Post("/v1/completions",
                  nlohmann::json{{"prompt", long_prompt},
                                 {"max_tokens", 8},
                                 {"cap", {{"policy", "streaming"}, {"sink", 4}, {"window", 64}}}}
                      .dump(),
                  "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const auto j = nlohmann::json::parse(r->body);
  EXPECT_GT(j["usage"]["prompt_tokens"].get<int>(), static_cast<int>(full));
  EXPECT_EQ(j["usage"]["completion_tokens"], 8);
  server->stop();
}

}  // namespace
}  // namespace gearbox::serve::server
