// The connection layer under ApiServer's httplib routes. httplib 0.11 gives each connection a
// pool thread from accept on, so clients that trickle their headers (slowloris) hold every
// thread and nothing else is served; and it buffers a chunked request body without limit.
// HttpFront takes the accepted sockets instead:
//   - one intake thread polls every connection until its headers are complete, with a
//     deadline (408 when it passes), a header size limit (431), and a bounded number of
//     connections waiting (when full, the one that has waited longest is dropped);
//   - only complete headers reach a worker thread, which runs httplib's request processing
//     over a stream whose reads stop at the body deadline and at the body limit (plus chunk
//     framing), so a chunked body is cut there (413) instead of buffered whole;
//   - between requests a kept-alive connection goes back to the intake (it holds no worker);
//     a connection closed with request bytes unread is drained for a while first, so its
//     client reads the error rather than a reset.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gearbox::serve::server {

struct FrontOptions {
  std::size_t workers = 8;                          // threads running handlers
  std::size_t max_pending = 512;                    // connections waiting for headers
  std::chrono::milliseconds read_deadline{10000};   // for the headers, then for the body
  std::chrono::milliseconds keep_alive_idle{5000};  // idle kept-alive connection
  std::chrono::milliseconds linger{2000};           // draining before a close
  std::chrono::milliseconds write_timeout{5000};    // one write's wait for the client
  std::size_t max_header_bytes = 64 * 1024;         // request line and headers
  std::size_t max_body_bytes = 1u << 20;            // larger bodies get 413
  std::size_t keep_alive_max = 100;                 // requests on one connection
};

// One connection between the intake and the workers.
struct FrontConnection {
  int fd = -1;
  std::string buffered;  // bytes read but not yet consumed (the next request's start)
  std::size_t served = 0;
  bool draining = false;  // read and discard until EOF or the linger time, then close
  std::chrono::steady_clock::time_point since{}, deadline{};
};

class HttpFront : public httplib::Server {
 public:
  explicit HttpFront(FrontOptions options);
  ~HttpFront() override;
  HttpFront(const HttpFront&) = delete;
  HttpFront& operator=(const HttpFront&) = delete;

  // Starts the intake and worker threads (call before listen_after_bind()). Throws
  // Error::usage naming `workers_field` when the system refuses a thread (the threads
  // started are stopped first).
  void start_front(const std::string& workers_field);
  // Stops accepting (httplib::Server::stop()), closes waiting connections and joins every
  // thread; handlers still running must be finishing (idempotent).
  void stop_front();

  // On a worker thread inside a handler: the socket of the request being handled (-1 else),
  // and whether its body was cut at the limit.
  static int current_socket();
  static bool current_body_over_limit();

  // Connections dropped by the intake (deadline passed, headers too large, or evicted).
  std::size_t dropped() const { return dropped_.load(); }

 private:
  bool process_and_close_socket(socket_t sock) override;

  void intake_loop();
  void worker_loop();
  void to_intake(FrontConnection c);
  void to_worker(FrontConnection c);
  void serve_one(FrontConnection c);
  void close_now(int fd);
  void refuse(FrontConnection& c, int status, const char* reason);

  FrontOptions opt_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> dropped_{0};
  bool started_ = false, stopped_ = false;
  int wake_fd_ = -1;

  std::mutex inbox_mu_;
  std::vector<FrontConnection> inbox_;  // to the intake thread
  std::thread intake_;

  std::mutex work_mu_;
  std::condition_variable work_cv_;
  std::deque<FrontConnection> work_;  // complete headers, waiting for a worker
  std::vector<std::thread> workers_;
};

}  // namespace gearbox::serve::server
