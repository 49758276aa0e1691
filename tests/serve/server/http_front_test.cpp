// The server's connection layer against hostile clients on loopback (FakeModelRunner test
// double): clients trickling their headers (slowloris) must not starve /health, a client past
// the header deadline gets 408, the connections waiting for headers are bounded, and a
// chunked body is cut at the body limit with 413 instead of buffered whole. Every loop is
// bounded in count and time; every server is the test's own, on a free port.
#include <gtest/gtest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "fake_runner.hpp"
#include "gearbox/serve/server/http_server.hpp"

namespace gearbox::serve::server {
namespace {

using Clock = std::chrono::steady_clock;
using testing::FakeModelRunner;

// A connected loopback socket to `port` (closed by the destructor).
struct RawSocket {
  int fd = -1;
  explicit RawSocket(int port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ~RawSocket() {
    if (fd >= 0) ::close(fd);
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  bool send_all(const std::string& s) const {
    return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  }
  // Reads until the peer closes or `limit` passes; returns what arrived.
  std::string read_until_close(std::chrono::milliseconds limit) const {
    std::string out;
    const auto until = Clock::now() + limit;
    char buf[4096];
    while (Clock::now() < until) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
  // True when the peer closed the connection (EOF or reset) within `limit`.
  bool closed_within(std::chrono::milliseconds limit) const {
    const auto until = Clock::now() + limit;
    char buf[4096];
    while (Clock::now() < until) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
    }
    return false;
  }
};

std::unique_ptr<ApiServer> start(FakeModelRunner& runner, ServerOptions opt) {
  opt.port = 0;
  auto s = std::make_unique<ApiServer>(runner, opt);
  s->start();
  return s;
}

// GET /health with a client that gives up after `seconds`; the status, or -1.
int health(int port, int seconds) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(seconds, 0);
  c.set_read_timeout(seconds, 0);
  auto r = c.Get("/health");
  return r ? r->status : -1;
}

// Opens `n` sockets that each send the start of a request and then one more header byte
// every 100 ms from a background thread, until stop() (or 30 s).
class Slowloris {
 public:
  Slowloris(int port, int n) {
    for (int i = 0; i < n; ++i) {
      socks_.push_back(std::make_unique<RawSocket>(port));
      if (socks_.back()->fd >= 0) socks_.back()->send_all("POST /v1/completions HTTP/1.1\r\n");
    }
    thread_ = std::thread([this] {
      const auto until = Clock::now() + std::chrono::seconds(30);
      while (!stop_.load() && Clock::now() < until) {
        for (auto& s : socks_)
          if (s->fd >= 0) ::send(s->fd, "X", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  ~Slowloris() { stop(); }
  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  const std::vector<std::unique_ptr<RawSocket>>& sockets() const { return socks_; }

 private:
  std::vector<std::unique_ptr<RawSocket>> socks_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// 120 connections trickling headers, more than the server's 104 handler threads (8 running
// + 64 waiting + 32): /health must still answer while they trickle. (httplib alone gave each
// of them a pool thread from accept on, and /health waited behind them as long as they lasted.)
TEST(HttpFront, SlowHeaderClientsDoNotStarveHealth) {
  FakeModelRunner runner;
  auto s = start(runner, ServerOptions{});
  Slowloris slow(s->port(), 120);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // they are all accepted
  for (int i = 0; i < 3; ++i) EXPECT_EQ(health(s->port(), 5), 200) << "probe " << i;
  // And a generation request is served too.
  httplib::Client c("127.0.0.1", s->port());
  c.set_read_timeout(10, 0);
  auto r = c.Post("/v1/completions", R"({"prompt":"x","max_tokens":3})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  slow.stop();
  s->stop();
}

// A client still sending its headers when the read deadline passes gets 408 and is closed.
TEST(HttpFront, HeadersPastTheDeadlineGet408) {
  FakeModelRunner runner;
  ServerOptions opt;
  opt.read_deadline = std::chrono::milliseconds(500);
  auto s = start(runner, opt);
  Slowloris slow(s->port(), 1);
  const std::string got = slow.sockets()[0]->read_until_close(std::chrono::seconds(10));
  EXPECT_EQ(got.rfind("HTTP/1.1 408", 0), 0u) << got;
  slow.stop();
  EXPECT_EQ(health(s->port(), 5), 200);
  s->stop();
}

// With room for 8 connections waiting for headers, 20 slow ones: the oldest are dropped as
// new ones come, and /health (arriving last) is served.
TEST(HttpFront, WaitingConnectionsAreBoundedOldestDropped) {
  FakeModelRunner runner;
  ServerOptions opt;
  opt.max_pending_connections = 8;
  auto s = start(runner, opt);
  Slowloris slow(s->port(), 20);
  std::vector<bool> closed(slow.sockets().size(), false);
  int n_closed = 0;
  const auto until = Clock::now() + std::chrono::seconds(5);
  while (n_closed < 12 && Clock::now() < until) {
    for (std::size_t i = 0; i < closed.size(); ++i) {
      if (closed[i] || !slow.sockets()[i]->closed_within(std::chrono::milliseconds(1))) continue;
      closed[i] = true;
      ++n_closed;
    }
  }
  EXPECT_GE(n_closed, 12);
  EXPECT_EQ(health(s->port(), 5), 200);
  slow.stop();
  s->stop();
}

// Sends a chunked POST of up to `total` bytes in 64 KiB chunks, stopping when the server
// answers or closes; returns {bytes of body sent, the answer}.
std::pair<std::size_t, std::string> send_chunked(int port, std::size_t total) {
  RawSocket sock(port);
  EXPECT_GE(sock.fd, 0);
  sock.send_all(
      "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n");
  const std::string chunk = "10000\r\n" + std::string(65536, ' ') + "\r\n";
  std::size_t sent = 0;
  const auto until = Clock::now() + std::chrono::seconds(30);
  while (sent < total && Clock::now() < until) {
    pollfd p{sock.fd, POLLIN | POLLOUT, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    if (p.revents & (POLLIN | POLLERR | POLLHUP)) break;  // the server answered or closed
    if (::send(sock.fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(chunk.size()))
      break;
    sent += 65536;
  }
  if (sent >= total) sock.send_all("0\r\n\r\n");
  return {sent, sock.read_until_close(std::chrono::seconds(10))};
}

TEST(HttpFront, ChunkedBodyOverTheLimitIsCutWith413) {
  FakeModelRunner runner;
  auto s = start(runner, ServerOptions{});  // 1 MiB body limit
  constexpr std::size_t kTotal = 64u << 20;
  const auto [sent, answer] = send_chunked(s->port(), kTotal);
  EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer.substr(0, 200);
  EXPECT_NE(answer.find("request body over 1048576 bytes"), std::string::npos);
  EXPECT_LT(sent, kTotal) << "the server read the whole body";
  EXPECT_EQ(health(s->port(), 5), 200);
  s->stop();
}

TEST(HttpFront, ChunkedBodiesWithinTheLimitAreServedAndJustOverGet413) {
  FakeModelRunner runner;
  auto s = start(runner, ServerOptions{});
  auto post = [&](const std::string& body) {
    RawSocket sock(s->port());
    std::string req =
        "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    for (std::size_t at = 0; at < body.size(); at += 1000) {
      const std::string part = body.substr(at, 1000);
      char len[16];
      std::snprintf(len, sizeof len, "%zx\r\n", part.size());
      req += len + part + "\r\n";
    }
    req += "0\r\n\r\n";
    sock.send_all(req);
    return sock.read_until_close(std::chrono::seconds(10));
  };
  const std::string small = R"({"prompt":"x","max_tokens":2})" + std::string(200000, ' ');
  const std::string ok = post(small);
  EXPECT_EQ(ok.rfind("HTTP/1.1 200", 0), 0u) << ok.substr(0, 300);
  // 1 MiB + 4 KiB of payload in 1,000-byte chunks: under the framing allowance, over the limit.
  const std::string over = post(R"({"prompt":"x"})" + std::string((1u << 20) + 4096, ' '));
  EXPECT_EQ(over.rfind("HTTP/1.1 413", 0), 0u) << over.substr(0, 300);
  s->stop();
}

}  // namespace
}  // namespace gearbox::serve::server
