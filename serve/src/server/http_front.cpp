#include "http_front.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "gearbox/core/error.hpp"

namespace gearbox::serve::server {
namespace {

using Clock = std::chrono::steady_clock;

// Runs httplib's per-connection task on the accepting thread: process_and_close_socket()
// below only hands the socket to the intake.
class InlineQueue : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

int ms_until(Clock::time_point t, Clock::time_point now) {
  if (t <= now) return 0;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - now).count() + 1;
  return static_cast<int>(std::min<long long>(ms, 1000));
}

// Waits for `events` on fd until `deadline`, in slices so `stopping` is noticed; true when
// ready (or the peer hung up: the read or write then reports it).
bool wait_for(int fd, short events, Clock::time_point deadline, const std::atomic<bool>& stopping) {
  for (;;) {
    if (stopping.load()) return false;
    const auto now = Clock::now();
    if (now >= deadline) return false;
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, std::min(ms_until(deadline, now), 100));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

bool numeric_address(const sockaddr_storage& a, socklen_t len, std::string& ip, int& port) {
  char h[NI_MAXHOST], p[NI_MAXSERV];
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&a), len, h, sizeof h, p, sizeof p,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return false;
  ip = h;
  port = std::atoi(p);
  return true;
}

// End of the header block in `buf` (one past its blank line), or npos.
std::size_t header_end(const std::string& buf) {
  const std::size_t crlf = buf.find("\r\n\r\n");
  const std::size_t lf = buf.find("\n\n");
  const std::size_t a = crlf == std::string::npos ? crlf : crlf + 4;
  const std::size_t b = lf == std::string::npos ? lf : lf + 2;
  return std::min(a, b);
}

// httplib's Stream over one connection: first the bytes the intake read, then the socket.
// Reads stop at the deadline and once more than `body_cap` bytes follow the headers.
class ConnectionStream : public httplib::Stream {
 public:
  ConnectionStream(int fd, std::string buffered, std::size_t header_bytes, std::size_t body_cap,
                   Clock::time_point deadline, std::chrono::milliseconds write_timeout,
                   const std::atomic<bool>& stopping)
      : fd_(fd),
        buf_(std::move(buffered)),
        limit_(header_bytes + body_cap),
        deadline_(deadline),
        write_timeout_(write_timeout),
        stopping_(stopping) {}

  bool is_readable() const override {
    return off_ < buf_.size() || wait_for(fd_, POLLIN, deadline_, stopping_);
  }
  bool is_writable() const override {
    if (!wait_for(fd_, POLLOUT, Clock::now() + write_timeout_, stopping_)) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return true;  // nothing to read: alive
    char c;
    return ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;  // 0: the client hung up
  }
  ssize_t read(char* ptr, std::size_t size) override {
    if (failed_) return -1;
    if (off_ < buf_.size()) {
      const std::size_t n = std::min(size, buf_.size() - off_);
      std::memcpy(ptr, buf_.data() + off_, n);
      off_ += n;
      return count(static_cast<ssize_t>(n));
    }
    for (;;) {
      if (!wait_for(fd_, POLLIN, deadline_, stopping_)) return fail();
      const ssize_t n =
          ::recv(fd_, ptr, std::min(size, limit_ + 1 - std::min(consumed_, limit_)), MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      if (n <= 0) return fail();
      return count(n);
    }
  }
  ssize_t write(const char* ptr, std::size_t size) override {
    if (!wait_for(fd_, POLLOUT, Clock::now() + write_timeout_, stopping_)) return -1;
    const ssize_t n = ::send(fd_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 0;
    return n;
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    address(::getpeername, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    address(::getsockname, ip, port);
  }
  socket_t socket() const override { return fd_; }

  bool over_limit() const { return over_limit_; }
  bool failed() const { return failed_; }
  // The bytes read past the request (a pipelined next request's start).
  std::string unread() const { return buf_.substr(std::min(off_, buf_.size())); }

 private:
  // The numeric address `get` (getpeername or getsockname) gives ("" and 0 on failure).
  void address(int (*get)(int, sockaddr*, socklen_t*), std::string& ip, int& port) const {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (get(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0 ||
        !numeric_address(a, len, ip, port)) {
      ip.clear();
      port = 0;
    }
  }
  ssize_t fail() {
    failed_ = true;
    return -1;
  }
  ssize_t count(ssize_t n) {
    consumed_ += static_cast<std::size_t>(n);
    if (consumed_ > limit_) {
      over_limit_ = true;
      return fail();
    }
    return n;
  }

  int fd_;
  std::string buf_;
  std::size_t off_ = 0, consumed_ = 0;
  std::size_t limit_;
  Clock::time_point deadline_;
  std::chrono::milliseconds write_timeout_;
  const std::atomic<bool>& stopping_;
  bool failed_ = false, over_limit_ = false;
};

thread_local const ConnectionStream* tl_stream = nullptr;

}  // namespace

HttpFront::HttpFront(FrontOptions options) : opt_(options) {
  new_task_queue = [] { return new InlineQueue; };
  set_payload_max_length(opt_.max_body_bytes);
}

HttpFront::~HttpFront() {
  stop_front();
}

int HttpFront::current_socket() {
  return tl_stream ? tl_stream->socket() : -1;
}

bool HttpFront::current_body_over_limit() {
  return tl_stream && tl_stream->over_limit();
}

void HttpFront::start_front(const std::string& workers_field) {
  if (started_) return;
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw Error::runtime("cannot create an eventfd").found(std::strerror(errno));
  try {
    intake_ = std::thread([this] { intake_loop(); });
    workers_.reserve(opt_.workers);
    for (std::size_t i = 0; i < opt_.workers; ++i) workers_.emplace_back([this] { worker_loop(); });
  } catch (const std::system_error& e) {
    const std::size_t made = workers_.size();
    started_ = true;
    stop_front();
    throw Error::usage("cannot start " + std::to_string(opt_.workers) +
                       " HTTP worker threads (one per running or waiting request): the system "
                       "refused thread " +
                       std::to_string(made + 1) + " (" + e.code().message() + ")")
        .field(workers_field)
        .expected("a value the system can give a thread each");
  }
  started_ = true;
}

void HttpFront::stop_front() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  stop();  // httplib: closes the listening socket; listen_after_bind() returns
  stopping_.store(true);
  if (wake_fd_ >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }
  work_cv_.notify_all();
  if (intake_.joinable()) intake_.join();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  std::lock_guard lock(work_mu_);
  for (auto& c : work_) close_now(c.fd);
  work_.clear();
  {
    std::lock_guard in(inbox_mu_);
    for (auto& c : inbox_) close_now(c.fd);
    inbox_.clear();
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
  wake_fd_ = -1;
}

bool HttpFront::process_and_close_socket(socket_t sock) {
  FrontConnection c;
  c.fd = sock;
  to_intake(std::move(c));
  return true;
}

void HttpFront::close_now(int fd) {
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

void HttpFront::to_intake(FrontConnection c) {
  const auto now = Clock::now();
  c.since = now;
  c.deadline = now + (c.draining                           ? opt_.linger
                      : c.served > 0 && c.buffered.empty() ? opt_.keep_alive_idle
                                                           : opt_.read_deadline);
  if (stopping_.load()) {
    close_now(c.fd);
    return;
  }
  {
    std::lock_guard lock(inbox_mu_);
    inbox_.push_back(std::move(c));
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void HttpFront::to_worker(FrontConnection c) {
  {
    std::lock_guard lock(work_mu_);
    work_.push_back(std::move(c));
  }
  work_cv_.notify_one();
}

void HttpFront::refuse(FrontConnection& c, int status, const char* reason) {
  const std::string body = std::string(R"({"error":{"message":")") + reason +
                           R"(","type":"invalid_request_error","param":null,"code":null}})";
  const std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                           "\r\nContent-Type: application/json\r\nConnection: close\r\n"
                           "Content-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n";
  const std::string all = head + body;
  [[maybe_unused]] auto n = ::send(c.fd, all.data(), all.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ++dropped_;
  ::shutdown(c.fd, SHUT_WR);
  c.draining = true;  // drained until the client closes, so it reads the answer
  c.buffered.clear();
}

void HttpFront::intake_loop() {
  std::vector<FrontConnection> pending;
  std::vector<pollfd> fds;
  char buf[16384];
  while (!stopping_.load()) {
    std::vector<FrontConnection> arrived;
    {
      std::lock_guard lock(inbox_mu_);
      arrived.swap(inbox_);
    }
    for (auto& c : arrived) {
      if (!c.draining && header_end(c.buffered) != std::string::npos) {
        to_worker(std::move(c));  // a pipelined request already complete
        continue;
      }
      std::size_t waiting = 0;
      for (const auto& p : pending) waiting += p.draining ? 0 : 1;
      if (!c.draining && waiting >= opt_.max_pending) {
        // Full: the connection that has waited longest for its headers goes.
        auto oldest = std::min_element(pending.begin(), pending.end(), [](auto& a, auto& b) {
          return !a.draining && (b.draining || a.since < b.since);
        });
        close_now(oldest->fd);
        ++dropped_;
        pending.erase(oldest);
      }
      pending.push_back(std::move(c));
    }
    fds.assign(1, pollfd{wake_fd_, POLLIN, 0});
    auto now = Clock::now();
    int timeout = 1000;
    for (const auto& p : pending) {
      fds.push_back(pollfd{p.fd, POLLIN, 0});
      timeout = std::min(timeout, ms_until(p.deadline, now));
    }
    const int r = ::poll(fds.data(), fds.size(), timeout);
    if (r < 0 && errno != EINTR) break;
    if (fds[0].revents & POLLIN) {
      std::uint64_t v;
      [[maybe_unused]] auto n = ::read(wake_fd_, &v, sizeof v);
    }
    now = Clock::now();
    std::vector<FrontConnection> kept;
    kept.reserve(pending.size());
    for (std::size_t i = 0; i < pending.size(); ++i) {
      FrontConnection& c = pending[i];
      if (fds[i + 1].revents != 0) {
        const ssize_t n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
          close_now(c.fd);  // the client closed (or the socket failed)
          continue;
        }
        if (n > 0 && !c.draining) {
          c.buffered.append(buf, static_cast<std::size_t>(n));
          const std::size_t end = header_end(c.buffered);
          if (end != std::string::npos && end <= opt_.max_header_bytes) {
            to_worker(std::move(c));
            continue;
          }
          if (c.buffered.size() > opt_.max_header_bytes) {
            refuse(c, 431, "Request Header Fields Too Large");
            c.deadline = now + opt_.linger;
          }
        }
      }
      if (now >= c.deadline) {
        if (c.draining || c.buffered.empty()) {
          close_now(c.fd);  // drained, or an idle connection: closed without a word
          continue;
        }
        refuse(c, 408, "Request Timeout");  // headers not complete in time
        c.deadline = now + opt_.linger;
      }
      kept.push_back(std::move(c));
    }
    pending.swap(kept);
  }
  for (auto& c : pending) close_now(c.fd);
}

void HttpFront::worker_loop() {
  for (;;) {
    FrontConnection c;
    {
      std::unique_lock lock(work_mu_);
      work_cv_.wait(lock, [&] { return stopping_.load() || !work_.empty(); });
      if (work_.empty()) return;
      c = std::move(work_.front());
      work_.pop_front();
    }
    serve_one(std::move(c));
  }
}

void HttpFront::serve_one(FrontConnection c) {
  const std::size_t head = header_end(c.buffered);
  // Chunked bodies carry framing: the cut is the limit plus an eighth, and the handler then
  // checks the decoded size against the limit itself.
  const std::size_t cap = opt_.max_body_bytes + opt_.max_body_bytes / 8 + 4096;
  ConnectionStream strm(c.fd, std::move(c.buffered), head, cap, Clock::now() + opt_.read_deadline,
                        opt_.write_timeout, stopping_);
  const bool close_connection = c.served + 1 >= opt_.keep_alive_max || stopping_.load();
  bool connection_closed = false;
  tl_stream = &strm;
  const bool ok = process_request(strm, close_connection, connection_closed, nullptr);
  tl_stream = nullptr;
  ++c.served;
  if (ok && !connection_closed && !close_connection && !strm.failed()) {
    c.buffered = strm.unread();
    to_intake(std::move(c));
    return;
  }
  if (strm.over_limit() || (strm.failed() && !stopping_.load())) {
    // Request bytes may still be coming: drain them before closing, or the close resets the
    // connection and the client may never read the answer.
    ::shutdown(c.fd, SHUT_WR);
    c.draining = true;
    c.buffered.clear();
    to_intake(std::move(c));
    return;
  }
  close_now(c.fd);
}

}  // namespace gearbox::serve::server
