#include "gearbox/sched/emulated_worker.hpp"

#include <csignal>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "gearbox/core/error.hpp"

namespace gearbox::sched {

namespace {
volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_usr1(int) {
  g_stop = 1;
}
}  // namespace

long long read_iterations_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return 0;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream ss(text);
  long long done = -1;
  std::string rest;
  if (!(ss >> done) || done < 0 || (ss >> rest)) {
    throw Error::input("not an iteration count")
        .at(path.string())
        .expected("one integer >= 0")
        .found(text.substr(0, 40));
  }
  return done;
}

void write_iterations_file(const std::filesystem::path& path, long long done) {
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << done << '\n';
    out.flush();
    if (!out) throw Error::runtime("cannot write").at(tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw Error::runtime("cannot rename: " + ec.message()).at(tmp);
}

long long run_emulated_worker(const WorkerSpec& spec) {
  if (spec.iterations <= 0) throw Error::usage("iterations must be positive").field("iterations");
  if (!(spec.iter_seconds >= 0)) throw Error::usage("bad iteration time").field("iter_seconds");
  g_stop = 0;
  struct sigaction sa {};
  sa.sa_handler = on_usr1;
  sigemptyset(&sa.sa_mask);
  struct sigaction old {};
  sigaction(SIGUSR1, &sa, &old);
  long long done = std::min(read_iterations_file(spec.checkpoint), spec.iterations);
  write_iterations_file(spec.progress, done);
  // Iterations end at start + k x iter_seconds (no drift). Progress is written at each
  // iteration's end, or every kMinReport when iterations are shorter (a time-scaled replay runs
  // thousands of iterations a second); USR1 is answered within 50 ms.
  using Clock = std::chrono::steady_clock;
  constexpr auto kMinReport = std::chrono::milliseconds(20);
  const long long first = done;
  const auto t_start = Clock::now();
  auto at = [&](long long k) {
    return t_start + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(spec.iter_seconds * static_cast<double>(k)));
  };
  auto last_report = t_start;
  while (done < spec.iterations && !g_stop) {
    const auto next = std::max(at(done + 1 - first), last_report + kMinReport);
    while (!g_stop && Clock::now() < next)
      std::this_thread::sleep_for(
          std::min<Clock::duration>(next - Clock::now(), std::chrono::milliseconds(50)));
    if (g_stop) break;
    last_report = Clock::now();
    const double elapsed = std::chrono::duration<double>(last_report - t_start).count();
    const long long ran = spec.iter_seconds > 0
                              ? static_cast<long long>(elapsed / spec.iter_seconds)
                              : spec.iterations;
    const long long before = done;
    done = std::min(spec.iterations, std::max(done + 1, first + ran));
    write_iterations_file(spec.progress, done);
    if (spec.checkpoint_every > 0 && done / spec.checkpoint_every > before / spec.checkpoint_every)
      write_iterations_file(spec.checkpoint, done);
  }
  write_iterations_file(spec.checkpoint, done);
  write_iterations_file(spec.progress, done);
  sigaction(SIGUSR1, &old, nullptr);
  return done;
}

}  // namespace gearbox::sched
