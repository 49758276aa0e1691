#include "gearbox/sched/emulated_worker.hpp"

#include <csignal>

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
  const auto step = std::chrono::duration<double>(spec.iter_seconds);
  auto next = std::chrono::steady_clock::now();
  while (done < spec.iterations && !g_stop) {
    next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(step);
    // Sleep in short slices so USR1 is answered within 50 ms.
    while (!g_stop && std::chrono::steady_clock::now() < next)
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          next - std::chrono::steady_clock::now(), std::chrono::milliseconds(50)));
    if (g_stop) break;
    ++done;
    write_iterations_file(spec.progress, done);
    if (spec.checkpoint_every > 0 && done % spec.checkpoint_every == 0)
      write_iterations_file(spec.checkpoint, done);
  }
  write_iterations_file(spec.checkpoint, done);
  write_iterations_file(spec.progress, done);
  sigaction(SIGUSR1, &old, nullptr);
  return done;
}

}  // namespace gearbox::sched
