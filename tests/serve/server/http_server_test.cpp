// The HTTP server on loopback over the FakeModelRunner test double: endpoints, SSE format,
// 64 concurrent streams, disconnects freeing blocks, 429 under a flood, 1,000 malformed
// requests. Every test starts its own server on a free port and stops it.
#include "gearbox/serve/server/http_server.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <thread>

#include "fake_runner.hpp"

namespace gearbox::serve::server {
namespace {

using Json = nlohmann::json;
using testing::FakeModelRunner;
using testing::kFakeScript;

std::unique_ptr<ApiServer> start_server(FakeModelRunner& runner, SchedulerOptions sched = {}) {
  ServerOptions opt;
  opt.port = 0;
  opt.scheduler = sched;
  auto s = std::make_unique<ApiServer>(runner, opt);
  s->start();
  return s;
}

httplib::Client client(const ApiServer& s) {
  httplib::Client c("127.0.0.1", s.port());
  c.set_read_timeout(30, 0);
  c.set_connection_timeout(5, 0);
  c.set_tcp_nodelay(true);
  return c;
}

struct StreamReply {
  int status = 0;
  std::string body;
  bool transport_ok = false;
};

StreamReply post_stream(httplib::Client& c, const std::string& path, const std::string& body,
                        std::size_t abort_after_bytes = 0) {
  StreamReply out;
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.set_header("Content-Type", "application/json");
  req.body = body;
  req.content_receiver = [&](const char* d, std::size_t n, std::uint64_t, std::uint64_t) {
    out.body.append(d, n);
    return abort_after_bytes == 0 || out.body.size() < abort_after_bytes;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  out.transport_ok = c.send(req, res, err);
  if (!out.transport_ok) out.body = "transport error " + httplib::to_string(err);
  out.status = res.status;
  return out;
}

// Checks that `body` is a well-formed OpenAI SSE stream (data: events, JSON chunks, a finish
// chunk with usage, then [DONE]) and returns the concatenated text deltas.
std::string parse_sse(const std::string& body, bool chat, std::string* finish = nullptr) {
  std::string text;
  std::size_t pos = 0;
  bool done = false, saw_finish = false;
  while (pos < body.size()) {
    const std::size_t end = body.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos) << "unterminated event";
    if (end == std::string::npos) break;
    const std::string event = body.substr(pos, end - pos);
    pos = end + 2;
    EXPECT_FALSE(done) << "event after [DONE]";
    EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
    const std::string data = event.substr(6);
    if (data == "[DONE]") {
      done = true;
      continue;
    }
    const Json j = Json::parse(data);
    EXPECT_EQ(j["object"], chat ? "chat.completion.chunk" : "text_completion");
    if (j["choices"].empty()) continue;
    const Json& c = j["choices"][0];
    text += chat ? c["delta"].value("content", "") : c["text"].get<std::string>();
    if (!c["finish_reason"].is_null()) {
      saw_finish = true;
      EXPECT_TRUE(j.contains("usage"));
      if (finish) *finish = c["finish_reason"];
    }
  }
  EXPECT_TRUE(done) << "no [DONE]";
  EXPECT_TRUE(saw_finish) << "no finish_reason";
  return text;
}

double metric(ApiServer& s, const std::string& series) {
  auto c = client(s);
  auto r = c.Get("/metrics");
  if (!r || r->status != 200) return -1;
  std::smatch m;
  const std::regex re("\n" + std::regex_replace(series, std::regex(R"([{}"])"), R"(\$&)") +
                      " ([0-9.e+-]+)\n");
  const std::string text = "\n" + r->body;
  return std::regex_search(text, m, re) ? std::stod(m[1]) : -1;
}

TEST(HttpServer, EndpointsAnswerInTheOpenAiFormat) {
  FakeModelRunner runner;
  auto s = start_server(runner);
  auto c = client(*s);
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  auto m = c.Get("/v1/models");
  ASSERT_TRUE(m);
  EXPECT_EQ(Json::parse(m->body)["data"][0]["id"], "fake-test-runner");

  auto r = c.Post("/v1/completions", R"({"prompt":"hi","temperature":0})", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const Json j = Json::parse(r->body);
  EXPECT_EQ(j["choices"][0]["text"], kFakeScript.substr(0, 16));  // OpenAI's default 16
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["prompt_tokens"], 3);  // BOS + 2 bytes
  EXPECT_EQ(j["usage"]["completion_tokens"], 16);

  auto chat = post_stream(c, "/v1/chat/completions",
                          R"({"model":"fake-test-runner","messages":[{"role":"user","content":"x"}],
                              "max_tokens":40,"stop":["lazy"],"stream":true,"temperature":0})");
  EXPECT_EQ(chat.status, 200);
  std::string finish;
  EXPECT_EQ(parse_sse(chat.body, true, &finish), "the quick brown fox jumps over the ");
  EXPECT_EQ(finish, "stop");

  auto bad =
      c.Post("/v1/chat/completions",
             R"({"messages":[{"role":"user","content":"x"}],"max_tokens":-2})", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(Json::parse(bad->body)["error"]["param"], "max_tokens");
  auto wrong_model =
      c.Post("/v1/completions", R"({"model":"gpt-4","prompt":"x"})", "application/json");
  ASSERT_TRUE(wrong_model);
  EXPECT_EQ(wrong_model->status, 404);
  auto too_long = c.Post("/v1/completions", "{\"prompt\":\"" + std::string(300, 'a') + "\"}",
                         "application/json");
  ASSERT_TRUE(too_long);
  EXPECT_EQ(too_long->status, 400);
  EXPECT_NE(too_long->body.find("< 256 tokens"), std::string::npos) << too_long->body;

  EXPECT_EQ(metric(*s, "gearbox_requests_total{finish_reason=\"length\"}"), 1.0);
  EXPECT_EQ(metric(*s, "gearbox_requests_total{finish_reason=\"stop\"}"), 1.0);
  EXPECT_EQ(metric(*s, "gearbox_generation_tokens_total"), 16.0 + 39.0);
  EXPECT_EQ(metric(*s, "gearbox_time_to_first_token_seconds_count"), 2.0);
  EXPECT_EQ(metric(*s, "gearbox_requests_rejected_total{reason=\"invalid\"}"), 3.0);
  s->stop();
}

TEST(HttpServer, SixtyFourConcurrentStreamsAllCompleteWellFormed) {
  FakeModelRunner runner;
  runner.call_delay = std::chrono::microseconds(500);
  SchedulerOptions sched;
  sched.max_running = 16;
  sched.max_queue = 64;
  auto s = start_server(runner, sched);
  constexpr int kClients = 64;
  std::vector<std::string> texts(kClients);
  std::vector<int> status(kClients, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      auto c = client(*s);
      const bool chat = i % 2 == 0;
      const std::string body =
          chat
              ? R"({"messages":[{"role":"user","content":"tell me"}],"max_tokens":24,"stream":true,"seed":)" +
                    std::to_string(i) + "}"
              : R"({"prompt":"once","max_tokens":24,"stream":true,"seed":)" + std::to_string(i) +
                    "}";
      auto r = post_stream(c, chat ? "/v1/chat/completions" : "/v1/completions", body);
      status[i] = r.status;
      texts[i] = r.transport_ok ? parse_sse(r.body, chat) : r.body;
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kClients; ++i) {
    EXPECT_EQ(status[i], 200) << i;
    std::string expected;
    for (std::size_t k = 0; k < 24; ++k)
      expected += kFakeScript[(i % kFakeScript.size() + k) % kFakeScript.size()];
    EXPECT_EQ(texts[i], expected) << i;
  }
  EXPECT_GT(runner.max_batch(), 1u);  // decodes were batched
  EXPECT_LE(runner.max_batch(), 16u);
  EXPECT_EQ(metric(*s, "gearbox_kv_blocks_in_use"), 0.0);
  s->stop();
  EXPECT_EQ(runner.open_sequences(), 0u);
}

TEST(HttpServer, DisconnectingClientsFreeTheirBlocks) {
  FakeModelRunner runner;
  runner.context = 1 << 20;
  runner.call_delay = std::chrono::microseconds(1000);
  auto s = start_server(runner);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto c = client(*s);
      // Generation would run for minutes; the client hangs up after a few chunks.
      post_stream(c, "/v1/completions", R"({"prompt":"x","max_tokens":500000,"stream":true})", 600);
    });
  }
  for (auto& t : threads) t.join();
  double in_use = -1, running = -1;
  for (int i = 0; i < 200; ++i) {  // bounded: 10 s
    in_use = metric(*s, "gearbox_kv_blocks_in_use");
    running = metric(*s, "gearbox_requests_running");
    if (in_use == 0.0 && running == 0.0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(in_use, 0.0);
  EXPECT_EQ(running, 0.0);
  EXPECT_EQ(runner.open_sequences(), 0u);
  EXPECT_EQ(metric(*s, "gearbox_requests_total{finish_reason=\"cancelled\"}"), 8.0);
  EXPECT_EQ(metric(*s, "gearbox_client_disconnects_total"), 8.0);
  s->stop();
}

// A non-streaming request writes nothing until the end; its client hanging up must still
// cancel the sequence (the server polls the socket) long before max_tokens.
TEST(HttpServer, NonStreamingClientThatHangsUpIsCancelled) {
  FakeModelRunner runner;
  runner.context = 1 << 20;
  runner.call_delay = std::chrono::microseconds(1000);  // >= 1 ms a token: 500 s to finish
  auto s = start_server(runner);
  constexpr int kMaxTokens = 500000;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(s->port()));
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string body = R"({"prompt":"x","max_tokens":)" + std::to_string(kMaxTokens) + "}";
  const std::string request =
      "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  double generated = 0;
  for (int i = 0; i < 200 && generated < 20; ++i) {  // bounded: 10 s
    generated = metric(*s, "gearbox_generation_tokens_total");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(generated, 20.0) << "generation never started";
  EXPECT_EQ(metric(*s, "gearbox_requests_running"), 1.0);
  ::close(fd);
  double cancelled = 0;
  for (int i = 0; i < 200 && cancelled < 1; ++i) {  // bounded: 10 s
    cancelled = metric(*s, "gearbox_requests_total{finish_reason=\"cancelled\"}");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(cancelled, 1.0);
  EXPECT_EQ(metric(*s, "gearbox_client_disconnects_total"), 1.0);
  EXPECT_LT(metric(*s, "gearbox_generation_tokens_total"), kMaxTokens / 10);
  EXPECT_EQ(metric(*s, "gearbox_kv_blocks_in_use"), 0.0);
  EXPECT_EQ(metric(*s, "gearbox_requests_running"), 0.0);
  EXPECT_EQ(runner.open_sequences(), 0u);
  // The server still serves, and a finished non-streaming request is not a disconnect.
  auto c = client(*s);
  auto ok = c.Post("/v1/completions", R"({"prompt":"x","max_tokens":3})", "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(metric(*s, "gearbox_client_disconnects_total"), 1.0);
  s->stop();
}

TEST(HttpServer, FloodBeyondTheQueueGets429AndServingGoesOn) {
  FakeModelRunner runner;
  runner.call_delay = std::chrono::microseconds(2000);
  SchedulerOptions sched;
  sched.max_running = 2;
  sched.max_queue = 4;
  auto s = start_server(runner, sched);
  constexpr int kFlood = 40;
  std::vector<int> status(kFlood, 0);
  std::vector<std::string> retry(kFlood);
  std::vector<std::thread> threads;
  for (int i = 0; i < kFlood; ++i) {
    threads.emplace_back([&, i] {
      auto c = client(*s);
      auto r = c.Post("/v1/completions", R"({"prompt":"x","max_tokens":40})", "application/json");
      if (!r) ADD_FAILURE() << httplib::to_string(r.error());
      if (r) {
        status[i] = r->status;
        retry[i] = r->get_header_value("Retry-After");
      }
    });
  }
  for (auto& t : threads) t.join();
  int ok = 0, limited = 0;
  for (int i = 0; i < kFlood; ++i) {
    if (status[i] == 200) ++ok;
    if (status[i] == 429) {
      ++limited;
      EXPECT_EQ(retry[i], "1");
    }
    EXPECT_TRUE(status[i] == 200 || status[i] == 429) << status[i];
  }
  EXPECT_GE(ok, 6);  // at least running + queue slots were served
  EXPECT_GT(limited, 0);
  auto c = client(*s);
  auto after = c.Post("/v1/completions", R"({"prompt":"x","max_tokens":3})", "application/json");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
  EXPECT_EQ(metric(*s, "gearbox_requests_rejected_total{reason=\"queue_full\"}"), limited);
  s->stop();
}

// 1,000 malformed requests of many kinds; each must get a 4xx, and the server must then serve.
TEST(HttpServer, ThousandMalformedRequestsEachGet4xx) {
  FakeModelRunner runner;
  auto s = start_server(runner);
  std::vector<std::string> kinds = {
      "{",
      "",
      "null",
      "[]",
      R"({"prompt":"a","max_tokens":-5})",
      R"({"prompt":"a","max_tokens":1e999})",
      R"({"prompt":"a","max_tokens":184467440737095516150})",
      R"({"prompt":"a","temperature":1e308})",
      R"({"prompt":"a","top_p":-1})",
      R"({"prompt":"a","seed":"x"})",
      R"({"prompt":"a","stream":1})",
      R"({"prompt":"a","unknown":true})",
      R"({"prompt":{"a":1}})",
      R"({"prompt":[99999999]})",
      R"({"prompt":"a","stop":[1,2]})",
      R"({"prompt":"a","cap":{"policy":"bogus"}})",
      R"({"prompt":"a","cap":{"policy":"streaming","window":[1]}})",
      "{\"prompt\":\"\xff\xfe\"}",
      "{\"prompt\":\"\xc0\x80\"}",
      R"({"messages":[{"role":"user","content":"x"}],"max_tokens":-1})",
      std::string(2000, '['),
      "{\"prompt\":\"a\"" + std::string(500, ' ') + ",}",
  };
  std::atomic<int> non4xx{0}, failures{0};
  std::vector<std::thread> threads;
  constexpr int kThreads = 4, kPerThread = 250;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto c = client(*s);
      c.set_keep_alive(true);
      std::mt19937 local(static_cast<unsigned>(t) * 1000u + 1u);
      for (int i = 0; i < kPerThread; ++i) {
        std::string body;
        const int pick = static_cast<int>(local() % (kinds.size() + 1));
        if (pick == static_cast<int>(kinds.size())) {
          // Random bytes, occasionally a 10 MB body.
          const std::size_t n = (i % 100 == 0 && t == 0) ? (10u << 20) : local() % 512;
          body.resize(n);
          for (auto& ch : body) ch = static_cast<char>(local());
        } else {
          body = kinds[static_cast<std::size_t>(pick)];
        }
        const char* path = (i % 3 == 0) ? "/v1/chat/completions" : "/v1/completions";
        auto r = c.Post(path, body, "application/json");
        if (!r) {
          ADD_FAILURE() << httplib::to_string(r.error()) << " for a body of " << body.size();
          ++failures;
          c.stop();
          continue;
        }
        if (r->status < 400 || r->status >= 500) {
          ADD_FAILURE() << r->status << " for " << body.substr(0, 80);
          ++non4xx;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(non4xx.load(), 0);
  EXPECT_EQ(failures.load(), 0);
  auto c = client(*s);
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  auto ok = c.Post("/v1/completions", R"({"prompt":"x","max_tokens":2})", "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  s->stop();
}

}  // namespace
}  // namespace gearbox::serve::server
