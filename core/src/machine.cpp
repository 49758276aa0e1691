#include "gearbox/core/machine.hpp"

#include <cblas.h>
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>
#include <vector>

#include <omp.h>

#include "gearbox/core/paths.hpp"
#include "gearbox/core/stats.hpp"
#include "gearbox/core/threads.hpp"

namespace gearbox {

CpuInfo cpu_info() {
  CpuInfo info;
  info.model = "unknown";
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) info.model = line.substr(colon + 2);
      break;
    }
  }
  info.logical_cores = static_cast<int>(std::thread::hardware_concurrency());
  __builtin_cpu_init();
  info.avx2 = __builtin_cpu_supports("avx2");
  info.fma = __builtin_cpu_supports("fma");
  info.avx512f = __builtin_cpu_supports("avx512f");
  return info;
}

std::string blas_info() {
  return std::string(openblas_get_config()) + ", " + std::to_string(openblas_get_num_threads()) +
         " threads";
}

nlohmann::json MachineProfile::to_json() const {
  return {{"threads", threads},
          {"mem_bw_gbs", mem_bw_gbs},
          {"fp32_gflops", fp32_gflops},
          {"seconds_to_probe", seconds_to_probe}};
}

MachineProfile MachineProfile::from_json(const nlohmann::json& j) {
  MachineProfile p;
  p.threads = j.at("threads").get<int>();
  p.mem_bw_gbs = j.at("mem_bw_gbs").get<double>();
  p.fp32_gflops = j.at("fp32_gflops").get<double>();
  p.seconds_to_probe = j.value("seconds_to_probe", 0.0);
  return p;
}

namespace {
double best_seconds(const std::function<void()>& fn, int reps) {
  MeasureOptions opt;
  opt.warmup = 1;
  opt.min_reps = reps;
  opt.max_reps = reps;
  opt.min_seconds = 0;
  return measure(fn, opt).min;
}
}  // namespace

MachineProfile probe_machine(int threads) {
  ThreadScope scope(threads);
  Stopwatch total;
  MachineProfile p;
  p.threads = scope.threads();

  // Triad a = b + s*c over 3 x 32 MiB, far beyond any last-level cache here.
  const std::size_t n = std::size_t{8} << 20;
  std::vector<float> a(n), b(n, 1.0f), c(n, 2.0f);
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i) a[i] = 0.0f;  // first touch by the worker threads
  const double t_triad = best_seconds(
      [&] {
        float* pa = a.data();
        const float* pb = b.data();
        const float* pc = c.data();
#pragma omp parallel for schedule(static)
        for (std::size_t i = 0; i < n; ++i) pa[i] = pb[i] + 1.5f * pc[i];
      },
      5);
  p.mem_bw_gbs = 3.0 * static_cast<double>(n) * sizeof(float) / t_triad / 1e9;

  const int m = 768;
  std::vector<float> x(static_cast<std::size_t>(m) * m, 0.5f), y(x.size(), 0.25f),
      z(x.size(), 0.0f);
  const double t_gemm = best_seconds(
      [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, m, m, 1.0f, x.data(), m, y.data(),
                    m, 0.0f, z.data(), m);
      },
      3);
  p.fp32_gflops = 2.0 * m * m * static_cast<double>(m) / t_gemm / 1e9;
  p.seconds_to_probe = total.seconds();
  return p;
}

MachineProfile machine_profile(int threads) {
  const int t = ThreadScope(threads).threads();
  std::string cpu = cpu_info().model;
  std::replace_if(
      cpu.begin(), cpu.end(), [](char ch) { return !std::isalnum(ch); }, '_');
  const auto file = cache_dir() / ("machine-" + cpu + "-" + std::to_string(t) + ".json");
  try {
    std::ifstream in(file);
    if (in) return MachineProfile::from_json(nlohmann::json::parse(in));
  } catch (const std::exception&) {
    // A damaged cache is re-measured below.
  }
  MachineProfile p = probe_machine(t);
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  std::ofstream out(file);
  if (out) out << p.to_json().dump(2) << '\n';
  return p;
}

}  // namespace gearbox
