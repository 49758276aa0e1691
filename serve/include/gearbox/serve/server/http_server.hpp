// ApiServer: the OpenAI-compatible HTTP front end (cpp-httplib) over a BatchScheduler.
//   POST /v1/completions, /v1/chat/completions   (JSON, or SSE with "stream": true)
//   GET  /v1/models, /health, /metrics            (Prometheus text format)
// Bad requests get 400 naming the field, unknown models 404, oversized bodies 413 (chunked
// ones too: reading stops at the limit), a full queue 429 with Retry-After. A client gets
// `read_deadline` for its headers and again for its body (408 after that); clients still
// sending headers hold no handler thread (http_front.hpp), so slow ones cannot starve others. A
// client that disconnects (streaming: a write fails; non-streaming: its socket, polled every 50 ms,
// reads end of stream) has its sequence cancelled and its KV blocks freed at the scheduler's next
// step.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "gearbox/serve/server/metrics.hpp"
#include "gearbox/serve/server/model_runner.hpp"
#include "gearbox/serve/server/scheduler.hpp"

namespace gearbox::serve::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                                 // 0: any free port (see ApiServer::port())
  std::size_t http_threads = 0;                    // 0: max_running + max_queue + 32
  std::size_t max_body_bytes = 1u << 20;           // larger bodies get 413
  std::chrono::milliseconds read_deadline{10000};  // for a request's headers, then its body
  std::size_t max_pending_connections = 512;       // waiting for headers; then the oldest goes
  std::optional<std::uint64_t> seed;               // base of per-request seeds (unset: random)
  std::string model_name;                          // served name; "" = the runner's name()
  std::size_t default_max_tokens = 16;             // /v1/completions without max_tokens (as OpenAI)
  SchedulerOptions scheduler;
};

class ApiServer {
 public:
  // `runner` must outlive the server. Throws Error::usage on bad scheduler options.
  ApiServer(ModelRunner& runner, ServerOptions options);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds host:port and serves on background threads; returns the bound port. Throws
  // Error::runtime when the address cannot be bound, Error::usage (field "max-queue") when
  // the system refuses the handler threads (one per running or waiting request). Ignores SIGPIPE
  // process-wide (a client that hangs up must not kill the server).
  int start();
  // Stops accepting, cancels every request (their blocks are freed) and joins (idempotent).
  void stop();
  int port() const;
  // The served model name.
  const std::string& model_name() const;
  MetricsRegistry& metrics();
  const BatchScheduler& scheduler() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gearbox::serve::server
