// A `gearbox serve run` process started by a test: spawned with an argument vector (no shell),
// its port read from the line it prints when it listens, and stopped by pid (SIGTERM, then
// SIGKILL) when the object goes out of scope, also when the test fails.
#pragma once

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gearbox/testing/run_cli.hpp"

namespace gearbox::test {

class ServerProcess {
 public:
  // Starts `argv` (argv[0] a path; stdout to /dev/null, stderr read here) with the current
  // environment plus `env` ("NAME=value") and waits up to `wait` for a line holding
  // "http://HOST:PORT". port() is -1 when the process exited (or the wait ran out) first;
  // code() then holds its exit status.
  explicit ServerProcess(const std::vector<std::string>& argv,
                         const std::vector<std::string>& env = {},
                         std::chrono::seconds wait = std::chrono::seconds(60)) {
    int err_pipe[2];
    if (::pipe(err_pipe) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", 0, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 1, 0);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
    posix_spawn_file_actions_addclose(&fa, err_pipe[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<std::string> env_strings = gearbox::testing::environment_with(env);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, argv.at(0).c_str(), &fa, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    ::close(err_pipe[1]);
    if (rc != 0) {
      ::close(err_pipe[0]);
      pid_ = -1;
      throw std::runtime_error("posix_spawn failed for " + argv.at(0));
    }
    err_fd_ = err_pipe[0];
    const auto until = std::chrono::steady_clock::now() + wait;
    const std::regex url(R"(http://[^ :]+:([0-9]+))");
    char buf[4096];
    while (std::chrono::steady_clock::now() < until) {
      pollfd p{err_fd_, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      const ssize_t n = ::read(err_fd_, buf, sizeof buf);
      if (n <= 0) break;  // the process closed stderr: it exited
      err_.append(buf, static_cast<std::size_t>(n));
      std::smatch m;
      if (std::regex_search(err_, m, url) && err_.find('\n', m.position(0)) != std::string::npos) {
        port_ = std::stoi(m[1]);
        return;
      }
    }
    stop();
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() { stop(); }

  int port() const { return port_; }
  // What the process wrote to stderr so far.
  const std::string& err() const { return err_; }
  // Exit status after stop() (128 + signal when killed by one); -1 while running.
  int code() const { return code_; }

  // Stops the process: SIGTERM, up to 10 s to exit, then SIGKILL (idempotent).
  void stop() {
    if (pid_ > 0) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == 0) {
        ::kill(pid_, SIGTERM);
        for (int i = 0; i < 100 && (r = ::waitpid(pid_, &status, WNOHANG)) == 0; ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (r == 0) {
          ::kill(pid_, SIGKILL);
          r = ::waitpid(pid_, &status, 0);
        }
      }
      if (r == pid_) code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = -1;
    }
    if (err_fd_ >= 0) {
      char buf[4096];
      for (;;) {  // what is left (the process has exited, so the pipe ends)
        pollfd p{err_fd_, POLLIN, 0};
        if (::poll(&p, 1, 0) <= 0) break;
        const ssize_t n = ::read(err_fd_, buf, sizeof buf);
        if (n <= 0) break;
        err_.append(buf, static_cast<std::size_t>(n));
      }
      ::close(err_fd_);
      err_fd_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
  int err_fd_ = -1;
  int port_ = -1;
  int code_ = -1;
  std::string err_;
};

}  // namespace gearbox::test
