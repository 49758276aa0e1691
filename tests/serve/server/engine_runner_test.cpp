// The server over the real engine on stories260K (skipped when the model file is absent):
// greedy completions reproduce the model's known text, through the scheduler and HTTP, with
// batched decode giving each stream the same tokens as a lone one.
#include "gearbox/serve/server/engine_runner.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "gearbox/core/error.hpp"
#include "gearbox/core/paths.hpp"
#include "gearbox/serve/server/http_server.hpp"
#include "gearbox/testing/data.hpp"
#include "scheduler_drain.hpp"

namespace gearbox::serve::server {
namespace {

std::optional<std::filesystem::path> stories_path() {
  const auto dir = models_dir();
  return dir ? std::optional(*dir / "stories260K.gguf") : std::nullopt;
}

// Skips (fails under GEARBOX_REQUIRE_DATA=1) when stories260K.gguf is absent.
#define REQUIRE_STORIES() GEARBOX_REQUIRE_FILE(stories_path())

// stories260K on one thread, or null when the file is absent (a load error throws).
std::unique_ptr<EngineRunner> load_stories(EngineRunnerOptions opt = {}) {
  const auto path = stories_path();
  if (!path || !std::filesystem::exists(*path)) return nullptr;
  opt.threads = 1;
  return EngineRunner::load(path->string(), opt);
}

httplib::Client loopback(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(60, 0);
  return c;
}

std::unique_ptr<ApiServer> serve_on_free_port(EngineRunner& runner, ServerOptions so = {}) {
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
  EXPECT_EQ(runner->max_model_len(streaming), full);
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

using Json = nlohmann::json;

// POSTs `body` to /v1/completions (or chat); returns status and parsed body (or {"raw": ...}).
std::pair<int, Json> post(int port, const Json& body, const std::string& path = "/v1/completions") {
  auto c = loopback(port);
  auto r = c.Post(path, body.dump(), "application/json");
  if (!r) return {0, Json{{"raw", "transport error"}}};
  Json j = Json::parse(r->body, nullptr, false);
  if (j.is_discarded()) j = Json{{"raw", r->body}};
  return {r->status, j};
}

// The value of series `name` in a /metrics exposition (-1 when absent).
double metric(const std::string& exposition, const std::string& name) {
  const std::string key = "\n" + name + " ";
  const auto at = exposition.find(key);
  return at == std::string::npos ? -1 : std::stod(exposition.substr(at + key.size(), 32));
}

TEST(EngineRunner, AnyNumberOfDistinctPoliciesOverTime) {
  REQUIRE_STORIES();
  auto runner = load_stories();
  auto server = serve_on_free_port(*runner);
  // Ten distinct streaming windows, one after another (the server used to keep 8 slots).
  for (int w = 16; w < 26; ++w) {
    auto [status, j] =
        post(server->port(), Json{{"prompt", "Once upon a time"},
                                  {"max_tokens", 4},
                                  {"cap", {{"policy", "streaming"}, {"window", w}}}});
    EXPECT_EQ(status, 200) << w << " " << j.dump();
  }
  // ... then yet another policy, and a composed spelling with a knob of its own plus one more
  // (as docs/serve-server.md documents it).
  for (const Json& cap :
       {Json{{"policy", "quant:int8"}}, Json{{"policy", "streaming:sink=4"}, {"window", 64}},
        Json{{"policy", "quant:int4+streaming:sink=2"}, {"window", 32}}}) {
    auto [status, j] =
        post(server->port(), Json{{"prompt", "Once upon a time"}, {"max_tokens", 4}, {"cap", cap}});
    EXPECT_EQ(status, 200) << cap.dump() << " " << j.dump();
  }
  server->stop();
  // Idle per-policy caches were released: only the default's is left.
  EXPECT_EQ(runner->policy_caches(), 1u);
  EXPECT_EQ(runner->kv_usage().bytes_in_use, 0u);
}

TEST(EngineRunner, EveryRequestIsBoundedByMaxModelLen) {
  REQUIRE_STORIES();
  auto runner = load_stories();
  const std::size_t model_len = runner->max_model_len(CapSpec{});
  ASSERT_GT(model_len, 0u);
  auto server = serve_on_free_port(*runner);
  const int port = server->port();
  // A chat without max_tokens, ignoring EOS, under an evicting policy (no context limit):
  // it ends at max-model-len tokens instead of generating while its client waits.
  auto [status, j] = post(port,
                          Json{{"messages", {{{"role", "user"}, {"content", "Tell a story"}}}},
                               {"ignore_eos", true},
                               {"temperature", 0},
                               {"cap", {{"policy", "streaming"}, {"window", 64}}}},
                          "/v1/chat/completions");
  ASSERT_EQ(status, 200) << j.dump();
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["completion_tokens"].get<std::size_t>(), model_len);
  // Raising the context or max_tokens past it: 400 naming the field.
  auto [s1, j1] = post(
      port,
      Json{{"prompt", "a"}, {"max_tokens", 4}, {"cap", {{"policy", "full"}, {"ctx", 16777216}}}});
  EXPECT_EQ(s1, 400) << j1.dump();
  EXPECT_EQ(j1["error"]["param"], "cap.ctx") << j1.dump();
  auto [s2, j2] = post(port, Json{{"prompt", "a"}, {"max_tokens", model_len + 1}});
  EXPECT_EQ(s2, 400) << j2.dump();
  EXPECT_EQ(j2["error"]["param"], "max_tokens") << j2.dump();
  server->stop();
}

TEST(EngineRunner, PreemptionUnderATightBudgetKeepsEveryAnswer) {
  // Six greedy requests of three policies at a budget holding a fraction of their worst cases,
  // all queued before the scheduler's first step (driven here step by step, so they run at
  // once on any machine, however loaded): sequences are preempted and recomputed, all complete
  // (none fails), each with the text it gets alone, and the KV bytes held never exceed the
  // budget.
  REQUIRE_STORIES();
  auto probe = load_stories();
  const std::size_t block = probe->kv_bytes(CapSpec{}, 1);  // one f32 block of 16 tokens
  EngineRunnerOptions opt;
  opt.kv_budget_bytes = 8 * block;
  auto runner = load_stories(opt);
  MetricsRegistry registry;
  ServeMetrics metrics{registry};
  SchedulerOptions so;
  so.max_running = 6;
  const std::vector<CapSpec> caps = {CapSpec{}, CapSpec{"quant:int8", {}},
                                     CapSpec{"streaming", {{"window", "16"}}}};
  const std::vector<Token> prompt = runner->encode("Once upon a time, there was a", true);
  auto request = [&](std::size_t i) {
    GenerationParams p;
    p.prompt = prompt;
    p.max_tokens = 40;
    p.sampling.temperature = 0;
    p.cap = caps[i % 3];
    return p;
  };
  std::vector<std::string> alone(3);
  for (std::size_t i = 0; i < 3; ++i) {
    BatchScheduler s(*runner, so, metrics);
    std::vector<std::shared_ptr<GenerationStream>> st = {s.submit(request(i))};
    std::vector<StreamUpdate> ends;
    alone[i] = testing::drain(s, st, &ends).at(0);
    ASSERT_EQ(ends.at(0).reason, FinishReason::kLength) << ends.at(0).error;
    EXPECT_EQ(s.preemptions(), 0u);
  }
  BatchScheduler s(*runner, so, metrics);
  std::vector<std::shared_ptr<GenerationStream>> st;
  for (std::size_t i = 0; i < 6; ++i) st.push_back(s.submit(request(i)));
  std::vector<StreamUpdate> ends;
  const auto text = testing::drain(s, st, &ends);
  for (std::size_t i = 0; i < 6; ++i) {
    ASSERT_EQ(ends[i].reason, FinishReason::kLength) << i << " " << ends[i].error;
    EXPECT_EQ(text[i], alone[i % 3]) << i;
    EXPECT_EQ(ends[i].completion_tokens, 40u) << i;
  }
  EXPECT_GT(s.preemptions(), 0u);
  EXPECT_EQ(metrics.preemptions.value(), static_cast<double>(s.preemptions()));
  const KvUsage kv = runner->kv_usage();
  EXPECT_GT(kv.peak_bytes, 0u);
  EXPECT_LE(kv.peak_bytes, opt.kv_budget_bytes);
  EXPECT_EQ(metrics.kv_bytes_peak.value(), static_cast<double>(kv.peak_bytes));  // the gauge
  s.stop();
  EXPECT_EQ(runner->kv_usage().bytes_in_use, 0u);
}

TEST(EngineRunner, PrefixCacheGivesTheUncachedAnswer) {
  REQUIRE_STORIES();
  auto cached = load_stories();  // prefix caching on (the default)
  EngineRunnerOptions off;
  off.prefix_cache = false;
  auto plain = load_stories(off);
  const std::string story =
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
      "park with her friends. One day, she saw a big red ball under a tree and";
  auto body = [&](const Json& cap) {
    Json b{{"prompt", story}, {"max_tokens", 24}, {"temperature", 0}};
    if (!cap.is_null()) b["cap"] = cap;
    return b;
  };
  for (const Json& cap : {Json(nullptr), Json{{"policy", "quant:int8"}}}) {
    auto plain_server = serve_on_free_port(*plain);
    auto [ps, pj] = post(plain_server->port(), body(cap));
    ASSERT_EQ(ps, 200) << pj.dump();
    EXPECT_EQ(pj["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    plain_server->stop();
    auto server = serve_on_free_port(*cached);
    auto [s1, j1] = post(server->port(), body(cap));
    auto [s2, j2] = post(server->port(), body(cap));
    ASSERT_EQ(s1, 200) << j1.dump();
    ASSERT_EQ(s2, 200) << j2.dump();
    const auto prompt_tokens = j1["usage"]["prompt_tokens"].get<std::size_t>();
    ASSERT_GT(prompt_tokens, 32u);
    EXPECT_EQ(j1["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    // The second request found every full block of the prompt but the last token's.
    EXPECT_EQ(j2["usage"]["prompt_tokens_details"]["cached_tokens"].get<std::size_t>(),
              (prompt_tokens - 1) / 16 * 16)
        << cap.dump();
    EXPECT_EQ(j1["choices"][0]["text"], pj["choices"][0]["text"]) << cap.dump();
    EXPECT_EQ(j2["choices"][0]["text"], pj["choices"][0]["text"]) << cap.dump();
    auto m = loopback(server->port()).Get("/metrics");
    ASSERT_TRUE(m);
    EXPECT_EQ(metric(m->body, "gearbox_prefix_cache_hits_total"),
              static_cast<double>((prompt_tokens - 1) / 16 * 16));
    server->stop();
  }
  // Evicting policies keep no prefix cache.
  auto server = serve_on_free_port(*cached);
  const Json streaming{{"policy", "streaming"}, {"window", 64}};
  post(server->port(), body(streaming));
  auto [s3, j3] = post(server->port(), body(streaming));
  ASSERT_EQ(s3, 200) << j3.dump();
  EXPECT_EQ(j3["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
  server->stop();
}

}  // namespace
}  // namespace gearbox::serve::server
