// What the Slurm daemon's end-to-end tests share: the daemon as a child process stopped by pid,
// its CLI clients, waits on its jobs list, checks on attempts, and a private local cluster
// (scripts/slurm-local.sh in a test's own directory) for tests that stop Slurm's daemons.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gearbox/core/output.hpp"
#include "gearbox/sched/command_runner.hpp"
#include "gearbox/sched/slurm_cli.hpp"
#include "gearbox/testing/run_cli.hpp"

extern char** environ;

namespace gearbox::sched::test {

// A free loopback port (the kernel's pick; closed again before use).
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

// A child process (output to a log file), stopped by pid when destroyed.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& log) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (::posix_spawn(&pid_, argv[0].c_str(), &fa, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { stop(SIGTERM); }
  // Sends `sig` and reaps the process (SIGKILL after 10 s).
  void stop(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  bool started() const { return pid_ > 0; }
  // Waits for the process to exit; its exit status (128 + signal if killed, -1 if not started).
  int wait() {
    if (pid_ <= 0) return -1;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
};

// Runs argv to its end with output appended to `log` (not a pipe: the daemons it starts keep
// no pipe of ours open); returns its exit status.
inline int run_logged(const std::vector<std::string>& argv, const std::filesystem::path& log) {
  return ChildProcess(argv, log).wait();
}

inline double wall_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// Calls `done` every 250 ms until it holds or `limit_s` passes; returns whether it held.
inline bool wait_until(const std::function<bool()>& done, double limit_s) {
  const auto stop = std::chrono::steady_clock::now() + std::chrono::duration<double>(limit_s);
  while (std::chrono::steady_clock::now() < stop) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return done();
}

// `gearbox sched daemon --slurm` with its state in `dir` on a free port, and its clients.
// The daemon reaches the Slurm cluster SLURM_CONF names in this process's environment.
class DaemonRig {
 public:
  DaemonRig(std::filesystem::path dir, std::vector<std::string> flags = {})
      : dir_(std::move(dir)), flags_(std::move(flags)) {
    port_ = free_port();
    url_ = "http://127.0.0.1:" + std::to_string(port_);
  }
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path work_dir() const { return dir_ / "state.sqlite.jobs"; }

  // Starts the daemon; it is up when the jobs list answers (the profile database takes a few
  // seconds to load).
  std::unique_ptr<ChildProcess> start() {
    std::vector<std::string> argv = {GEARBOX_BINARY,    "sched",
                                     "daemon",          "--slurm",
                                     "--state",         (dir_ / "state.sqlite").string(),
                                     "--listen",        "127.0.0.1:" + std::to_string(port_),
                                     "--round-seconds", "0.5",
                                     "--partition",     "gearbox",
                                     "--grace",         "2"};
    argv.insert(argv.end(), flags_.begin(), flags_.end());
    auto d = std::make_unique<ChildProcess>(argv, dir_ / "daemon.log");
    EXPECT_TRUE(d->started());
    if (!wait_until([&] { return run({"jobs"}).code == 0; }, 60))
      ADD_FAILURE() << "daemon did not answer within 60 s";
    return d;
  }
  gearbox::testing::CliRun run(std::vector<std::string> args) const {
    args.insert(args.begin(), {GEARBOX_BINARY, "sched"});
    args.push_back("--url");
    args.push_back(url_);
    return gearbox::testing::run_argv(args);
  }
  // Submits a job (extra: more flags, or "--" and a command); returns its id, 0 on failure.
  long long submit(const std::string& model, int batch, long long iterations, int gpus,
                   const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {"submit",
                                     "--model",
                                     model,
                                     "--batch",
                                     std::to_string(batch),
                                     "--iterations",
                                     std::to_string(iterations),
                                     "--gpus",
                                     std::to_string(gpus)};
    // Flags before the command's `--`: the rig's --url goes last, so put it inside.
    std::vector<std::string> tail;
    auto dash = std::find(extra.begin(), extra.end(), "--");
    args.insert(args.end(), extra.begin(), dash);
    tail.assign(dash, extra.end());
    args.push_back("--url");
    args.push_back(url_);
    args.insert(args.end(), tail.begin(), tail.end());
    args.insert(args.begin(), {GEARBOX_BINARY, "sched"});
    const auto r = gearbox::testing::run_argv(args);
    EXPECT_EQ(r.code, 0) << r.err;
    return r.code == 0 ? std::stoll(r.out) : 0;
  }
  Json jobs() const {
    const auto r = run({"jobs", "--json"});
    if (r.code != 0) return Json::array();
    return Json::parse(r.out)["jobs"];
  }
  Json job(long long id) const {
    for (const auto& j : jobs())
      if (j["id"] == id) return j;
    return Json::object();
  }
  // Waits until every job is in a final state (or `limit_s`); returns the last list.
  Json wait_all_done(double limit_s) const {
    Json list;
    wait_until(
        [&] {
          list = jobs();
          bool all = !list.empty();
          for (const auto& j : list)
            all = all &&
                  (j["state"] == "finished" || j["state"] == "failed" || j["state"] == "cancelled");
          return all;
        },
        limit_s);
    return list;
  }
  // The value of a Prometheus counter or gauge line of /metrics ("name" or "name{...}").
  double metric(const std::string& name) const {
    httplib::Client client(url_);
    client.set_read_timeout(10, 0);
    const auto r = client.Get("/metrics");
    if (!r || r->status != 200) return -1;
    std::istringstream in(r->body);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
    }
    return -1;
  }

 private:
  std::filesystem::path dir_;
  std::vector<std::string> flags_;
  int port_ = 0;
  std::string url_;
};

// The attempt's log line "sched worker: starting at N/M iterations": N, or -1.
inline long long resumed_at(const std::filesystem::path& out) {
  std::ifstream in(out);
  const std::string key = "sched worker: starting at ";
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find(key);
    if (at != std::string::npos) return std::stoll(line.substr(at + key.size()));
  }
  return -1;
}

// Every job finished; a job's attempts never overlap (each started after the previous ended);
// Slurm ran each attempt it was given exactly once (by its unique name).
inline void expect_all_finished_once(const Json& list, SlurmCli& cli) {
  std::map<std::string, int> in_slurm;
  for (const auto& sj : cli.jobs()) ++in_slurm[sj.name];
  for (const auto& j : list) {
    EXPECT_EQ(j["state"], "finished") << j.dump();
    EXPECT_EQ(j["progress"], j["iterations"]) << j.dump();
    const auto& a = j["attempts"];
    for (std::size_t k = 0; k < a.size(); ++k) {
      if (a[k]["slurm_id"].get<long long>() > 0) {
        EXPECT_EQ(in_slurm[a[k]["name"].get<std::string>()], 1) << a[k].dump();
      }
      if (k == 0) continue;
      EXPECT_GT(a[k - 1]["ended"].get<double>(), 0) << j.dump();
      EXPECT_GE(a[k]["started"].get<double>(), a[k - 1]["ended"].get<double>())
          << "attempts overlap: " << j.dump();
    }
  }
}

// A Slurm cluster of its own (scripts/slurm-local.sh up --dir DIR), for a test that stops
// slurmctld or kills a node: the shared fixture's cluster stays untouched. Stopped with
// `slurm-local.sh down` (by the pids it recorded) when destroyed, also when the test failed.
class LocalCluster {
 public:
  LocalCluster(const std::filesystem::path& dir, const std::string& nodes, int slurmd_timeout)
      : dir_(dir) {
    const int code = run_logged({"/bin/bash", script(), "up", "--dir", dir_.string(), "--nodes",
                                 nodes, "--slurmd-timeout", std::to_string(slurmd_timeout)},
                                log());
    up_ = code == 0;
    if (!up_) error_ = "slurm-local.sh up failed; see " + log().string();
    ::setenv("SLURM_CONF", conf().c_str(), 1);
  }
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;
  ~LocalCluster() { run_logged({"/bin/bash", script(), "down", "--dir", dir_.string()}, log()); }
  bool up() const { return up_; }
  const std::string& error() const { return error_; }
  std::filesystem::path conf() const { return dir_ / "slurm.conf"; }

  // slurmctld stopped with SIGTERM (by its pid file) and waited for.
  bool stop_controller() {
    const pid_t pid = pid_from(dir_ / "run" / "slurmctld.pid");
    if (pid <= 0 || ::kill(pid, SIGTERM) != 0) return false;
    return wait_until([&] { return ::kill(pid, 0) != 0; }, 30);
  }
  // slurmctld started again and answering (it daemonizes before binding its port, so its exit
  // code alone does not say it serves); false after 30 s without an answer.
  bool start_controller() {
    if (run_logged({"/usr/sbin/slurmctld", "-i", "-f", conf().string()}, log()) != 0) return false;
    return wait_until(
        [] {
          const auto r = gearbox::testing::run_argv({"/usr/bin/scontrol", "ping"});
          return r.code == 0 && r.out.find("is UP") != std::string::npos;
        },
        30);
  }
  // A dead node: its slurmd, the slurmstepd of its jobs and their processes, all SIGKILL.
  // Returns how many job processes were killed.
  int kill_node(const std::string& node) {
    const pid_t slurmd = pid_from(dir_ / "run" / ("slurmd-" + node + ".pid"));
    if (slurmd > 0) ::kill(slurmd, SIGKILL);
    std::vector<pid_t> jobs, steps;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
      const std::string name = e.path().filename().string();
      if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
      std::ifstream env(e.path() / "environ", std::ios::binary);
      std::string text((std::istreambuf_iterator<char>(env)), std::istreambuf_iterator<char>());
      const std::string conf_var = std::string("SLURM_CONF=") + conf().string() + '\0';
      const std::string node_var = "SLURMD_NODENAME=" + node + '\0';
      if (text.find(conf_var) == std::string::npos || text.find(node_var) == std::string::npos)
        continue;
      jobs.push_back(std::stoi(name));
      std::ifstream stat(e.path() / "stat");
      std::string line;
      std::getline(stat, line);
      const auto close = line.rfind(')');
      std::istringstream rest(close == std::string::npos ? "" : line.substr(close + 2));
      char state = 0;
      pid_t ppid = 0;
      rest >> state >> ppid;
      std::ifstream comm("/proc/" + std::to_string(ppid) + "/comm");
      std::string parent;
      std::getline(comm, parent);
      if (parent == "slurmstepd") steps.push_back(ppid);
    }
    for (pid_t p : steps) ::kill(p, SIGKILL);
    for (pid_t p : jobs) ::kill(p, SIGKILL);
    return static_cast<int>(jobs.size());
  }
  bool start_node(const std::string& node) {
    return run_logged({"/usr/sbin/slurmd", "-f", conf().string(), "-N", node}, log()) == 0;
  }
  // sinfo's short state of a node ("idle", "alloc", "down*", "drain", ...).
  std::string node_state(const std::string& node) const {
    auto r = gearbox::testing::run_argv({"/usr/bin/sinfo", "-h", "-N", "-n", node, "-o", "%t"});
    while (!r.out.empty() && std::isspace(static_cast<unsigned char>(r.out.back())))
      r.out.pop_back();
    return r.out;
  }
  bool scontrol_node(const std::string& node, const std::string& state) {
    return gearbox::testing::run_argv({"/usr/bin/scontrol", "update", "nodename=" + node,
                                       "state=" + state, "reason=gearbox-test"})
               .code == 0;
  }

 private:
  static std::string script() {
    return std::string(GEARBOX_SOURCE_DIR) + "/scripts/slurm-local.sh";
  }
  std::filesystem::path log() const { return dir_.parent_path() / "slurm-local.log"; }
  static pid_t pid_from(const std::filesystem::path& file) {
    std::ifstream in(file);
    long pid = 0;
    in >> pid;
    return static_cast<pid_t>(pid);
  }
  std::filesystem::path dir_;
  bool up_ = false;
  std::string error_;
};

}  // namespace gearbox::sched::test
