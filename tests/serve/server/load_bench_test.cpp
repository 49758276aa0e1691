// The load generator against a server over the FakeModelRunner test double: every request
// completes with exactly output_len tokens, and the JSON report has exactly the issue's keys.
#include "gearbox/serve/server/load_bench.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "fake_runner.hpp"
#include "gearbox/core/error.hpp"
#include "gearbox/serve/server/http_server.hpp"

namespace gearbox::serve::server {
namespace {

TEST(LoadBench, MeasuresEveryRequestOfAPoissonLoad) {
  testing::FakeModelRunner runner;
  runner.call_delay = std::chrono::microseconds(300);
  ServerOptions so;
  so.port = 0;
  so.scheduler.max_running = 4;
  ApiServer server(runner, so);
  const int port = server.start();
  LoadOptions opt;
  opt.url = "http://127.0.0.1:" + std::to_string(port);
  opt.requests = 12;
  opt.rate = 200;
  opt.input_len = 20;
  opt.output_len = 9;
  opt.concurrency = 6;
  parse_slo("ttft=60000,tpot=60000", opt);  // generous: every request meets it
  const LoadReport rep = run_load(opt);
  EXPECT_EQ(rep.completed, 12u) << rep.first_error;
  EXPECT_EQ(rep.failed, 0u);
  EXPECT_GT(rep.duration_s, 0);
  EXPECT_NEAR(rep.output_tok_s * rep.duration_s, 12.0 * 9.0, 1e-6);
  EXPECT_NEAR(rep.goodput, rep.request_throughput, 1e-9);
  EXPECT_LE(rep.ttft_ms.median, rep.e2e_ms.median);
  EXPECT_GT(rep.itl_ms.mean, 0);
  EXPECT_EQ(rep.model, "fake-test-runner");
  const auto j = rep.to_json();
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"completed", "duration_s", "e2e_ms", "failed",
                                            "goodput", "itl_ms", "output_tok_s",
                                            "request_throughput", "tpot_ms", "ttft_ms"}));
  for (const char* k : {"ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"}) {
    EXPECT_TRUE(j[k].contains("mean") && j[k].contains("median") && j[k].contains("p99")) << k;
  }
  // Prompts were token ids of exactly input_len tokens.
  EXPECT_NE(server.metrics().exposition().find("gearbox_prompt_tokens_total 240"),
            std::string::npos);
  server.stop();
}

// Another OpenAI-style server (a stub standing in for llama-cpp-python's): no vocab_size in
// /v1/models, SSE comments (keep-alive pings) between chunks, no usage. The bench sends text
// prompts of input_len words asking for exactly output_len tokens, and skips the comments.
TEST(LoadBench, WorksAgainstAServerWithPingsAndTextPrompts) {
  constexpr int kOut = 5;
  std::mutex mu;
  std::vector<nlohmann::json> bodies;
  httplib::Server stub;
  stub.Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"object":"list","data":[{"id":"/models/stub.gguf","object":"model"}]})",
                    "application/json");
  });
  stub.Post("/v1/completions", [&](const httplib::Request& req, httplib::Response& res) {
    {
      std::lock_guard lock(mu);
      bodies.push_back(nlohmann::json::parse(req.body));
    }
    std::string sse;
    for (int i = 0; i < kOut; ++i) {
      sse += R"(data: {"object":"text_completion","choices":[{"text":"t","index":0}]})"
             "\n\n: ping - 2026-01-01\n\n";
    }
    sse += "data: [DONE]\n\n";
    res.set_content(sse, "text/event-stream");
  });
  const int port = stub.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { stub.listen_after_bind(); });
  LoadOptions opt;
  opt.url = "http://127.0.0.1:" + std::to_string(port);
  opt.requests = 4;
  opt.input_len = 7;
  opt.output_len = kOut;
  opt.text_prompts = true;
  const LoadReport rep = run_load(opt);
  stub.stop();
  serving.join();
  EXPECT_EQ(rep.completed, 4u) << rep.first_error;
  EXPECT_NEAR(rep.output_tok_s * rep.duration_s, 4.0 * kOut, 1e-6);
  ASSERT_EQ(bodies.size(), 4u);
  for (const auto& b : bodies) {
    EXPECT_EQ(b["model"], "/models/stub.gguf");
    EXPECT_EQ(b["min_tokens"], kOut);
    EXPECT_EQ(b["max_tokens"], kOut);
    ASSERT_TRUE(b["prompt"].is_string());
    const std::string p = b["prompt"];
    EXPECT_EQ(std::count(p.begin(), p.end(), ' '), 6) << p;  // 7 words
  }
}

// A stub server on a free port of loopback with a listen backlog for bursts and `threads`
// handler threads; stopped and joined by the destructor.
struct StubServer {
  httplib::Server http;
  std::thread serving;
  int port = 0;
  explicit StubServer(std::size_t threads = 8, bool list_models = true) {
    http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http.set_socket_options([this](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
      listen_fd = sock;
    });
    if (!list_models) return;
    http.Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"object":"list","data":[{"id":"stub","object":"model"}]})",
                      "application/json");
    });
  }
  void start() {
    port = http.bind_to_any_port("127.0.0.1");
    if (listen_fd >= 0) ::listen(listen_fd, 1024);  // Debian's httplib listens with 5
    serving = std::thread([this] { http.listen_after_bind(); });
  }
  ~StubServer() {
    http.stop();
    if (serving.joinable()) serving.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  int listen_fd = -1;
};

std::string sse_event(const std::string& text) {
  return "data: {\"object\":\"text_completion\",\"choices\":[{\"text\":\"" + text +
         "\",\"index\":0}]}\n\n";
}

// With the default concurrency the bench runs a pool (256 in flight at most), not a thread
// per request: 300 requests that each take 200 ms at the server are never all in flight.
TEST(LoadBench, DefaultConcurrencyIsABoundedPool) {
  StubServer stub(320);
  std::atomic<int> in_flight{0}, most{0};
  stub.http.Post("/v1/completions", [&](const httplib::Request&, httplib::Response& res) {
    const int now = ++in_flight;
    for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    --in_flight;
    res.set_content(sse_event("t") + "data: [DONE]\n\n", "text/event-stream");
  });
  stub.start();
  LoadOptions opt;
  opt.url = stub.url();
  opt.requests = 300;
  opt.input_len = 2;
  opt.output_len = 1;
  const LoadReport rep = run_load(opt);
  EXPECT_EQ(rep.completed, 300u) << rep.first_error;
  EXPECT_LE(most.load(), 256);
  EXPECT_GT(most.load(), 1);
}

// Misbehaving servers: an SSE stream that never ends, and a body declared 1e11 bytes long.
// Each response is cut at the bench's cap (1 MiB + 16 KiB per output token) and fails with a
// clear reason; the stub stops sending after 64 MiB so a bench without a cap ends too.
TEST(LoadBench, ResponsesOverTheCapAreCutAndFail) {
  StubServer stub;
  constexpr std::size_t kStubMax = 64u << 20;
  stub.http.Post("/v1/completions", [&](const httplib::Request& req, httplib::Response& res) {
    if (req.body.find("\"max_tokens\":4,") != std::string::npos) {  // endless SSE
      res.set_chunked_content_provider(
          "text/event-stream", [event = sse_event("t")](std::size_t off, httplib::DataSink& sink) {
            std::string block;
            while (block.size() < 65536) block += event;
            if (off > kStubMax) return false;
            return sink.write(block.data(), block.size());
          });
    } else {  // Content-Length: 1e11, bytes without an event boundary
      res.set_content_provider(100000000000ull, "text/event-stream",
                               [](std::size_t off, std::size_t, httplib::DataSink& sink) {
                                 const std::string block(65536, 'x');
                                 if (off > kStubMax) return false;
                                 return sink.write(block.data(), block.size());
                               });
    }
  });
  stub.start();
  for (std::size_t out : {4, 5}) {
    LoadOptions opt;
    opt.url = stub.url();
    opt.requests = 2;
    opt.input_len = 2;
    opt.output_len = out;
    const LoadReport rep = run_load(opt);
    EXPECT_EQ(rep.completed, 0u);
    EXPECT_EQ(rep.failed, 2u);
    EXPECT_NE(rep.first_error.find("response over " + std::to_string((1u << 20) + out * 16384)),
              std::string::npos)
        << rep.first_error;
  }
}

// A /v1/models answer declared 1e11 bytes long is refused after 1 MiB, not buffered.
TEST(LoadBench, HugeModelListingIsAnError) {
  StubServer stub(8, false);
  stub.http.Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
    res.set_content_provider(100000000000ull, "application/json",
                             [](std::size_t off, std::size_t, httplib::DataSink& sink) {
                               const std::string block(65536, ' ');
                               if (off > (64u << 20)) return false;
                               return sink.write(block.data(), block.size());
                             });
  });
  stub.start();
  LoadOptions opt;
  opt.url = stub.url();
  opt.requests = 1;
  try {
    run_load(opt);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/v1/models answer too large"), std::string::npos)
        << e.what();
  }
}

TEST(LoadBench, RejectsBadOptions) {
  LoadOptions opt;
  EXPECT_THROW(parse_slo("ttft=abc", opt), Error);
  EXPECT_THROW(parse_slo("latency=5", opt), Error);
  EXPECT_THROW(parse_slo("ttft=-1", opt), Error);
  parse_slo("tpot=25", opt);
  EXPECT_EQ(opt.slo_tpot_ms, 25);
  opt.url = "https://x:1";
  EXPECT_THROW(run_load(opt), Error);
  opt.url = "http://127.0.0.1:notaport";
  EXPECT_THROW(run_load(opt), Error);
  opt.url = "http://127.0.0.1:1";  // nothing listens there
  EXPECT_THROW(run_load(opt), Error);
}

}  // namespace
}  // namespace gearbox::serve::server
