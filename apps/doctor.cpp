// `gearbox doctor`: compiler, CPU, BLAS, CUDA build and devices, measured machine constants,
// and where data and models are found.
#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "gearbox/core/blas_kernels.hpp"
#include "gearbox/core/cli.hpp"
#include "gearbox/core/cuda.hpp"
#include "gearbox/core/machine.hpp"
#include "gearbox/core/output.hpp"
#include "gearbox/core/paths.hpp"
#include "gearbox/core/threads.hpp"

namespace gearbox::apps {

namespace {

Json doctor_report(bool probe, int threads) {
  const CpuInfo cpu = cpu_info();
  Json j;
  j["version"] = GEARBOX_VERSION;
  j["compiler"] = std::string("g++ ") + __VERSION__;
  j["cpu"] = {{"model", cpu.model},
              {"logical_cores", cpu.logical_cores},
              {"avx2", cpu.avx2},
              {"fma", cpu.fma},
              {"avx512f", cpu.avx512f}};
  j["threads"] = set_threads(threads);
  j["blas"] = blas_info();
  j["blas_core"] = blas_core_name();
  Json devices = Json::array();
  for (const auto& d : cuda_devices()) {
    devices.push_back({{"index", d.index},
                       {"name", d.name},
                       {"sm", std::to_string(d.sm_major) + std::to_string(d.sm_minor)},
                       {"multiprocessors", d.multiprocessors},
                       {"memory_gib", static_cast<double>(d.memory_bytes) / (1 << 30)}});
  }
  j["cuda"] = {{"built", cuda_built()}, {"devices", devices}};
  const auto data = data_dir();
  const auto models = models_dir();
  auto where = [](const std::optional<std::filesystem::path>& p) {
    return p ? Json(std::filesystem::weakly_canonical(*p).string()) : Json(nullptr);
  };
  j["data_dir"] = where(data);
  j["models_dir"] = where(models);
  j["cache_dir"] = cache_dir().string();
  Json roots = Json::array();
  for (const auto& r : search_roots()) roots.push_back(r.string());
  j["search_roots"] = roots;
  if (probe) j["machine"] = machine_profile(j["threads"].get<int>()).to_json();
  return j;
}

void print_text(const Json& j) {
  auto yes = [](bool b) { return b ? "yes" : "no"; };
  std::cout << "gearbox " << j["version"].get<std::string>() << "\n"
            << "compiler:   " << j["compiler"].get<std::string>() << "\n"
            << "cpu:        " << j["cpu"]["model"].get<std::string>() << ", "
            << j["cpu"]["logical_cores"] << " logical cores, AVX2 " << yes(j["cpu"]["avx2"])
            << ", FMA " << yes(j["cpu"]["fma"]) << ", AVX-512 " << yes(j["cpu"]["avx512f"]) << "\n"
            << "threads:    " << j["threads"] << "\n"
            << "blas:       " << j["blas"].get<std::string>() << "\n"
            << "cuda build: " << (j["cuda"]["built"].get<bool>() ? "on (sm_90 + PTX)" : "off")
            << "\n";
  if (j["cuda"]["devices"].empty()) {
    std::cout << "cuda devs:  none seen\n";
  } else {
    for (const auto& d : j["cuda"]["devices"]) {
      std::cout << "cuda dev " << d["index"] << ": " << d["name"].get<std::string>() << ", sm_"
                << d["sm"].get<std::string>() << ", " << d["multiprocessors"] << " SMs, "
                << fmt_num(d["memory_gib"].get<double>(), 1) << " GiB\n";
    }
  }
  auto path_or = [](const Json& p, const char* hint) {
    return p.is_null() ? std::string("not found (") + hint + ")" : p.get<std::string>();
  };
  std::cout << "data:       " << path_or(j["data_dir"], "set GEARBOX_DATA") << "\n"
            << "models:     " << path_or(j["models_dir"], "set GEARBOX_MODELS") << "\n"
            << "cache:      " << j["cache_dir"].get<std::string>() << "\n";
  if (j.contains("machine")) {
    const auto& m = j["machine"];
    std::cout << "measured:   memory bandwidth " << fmt_num(m["mem_bw_gbs"].get<double>(), 1)
              << " GB/s (triad), FP32 " << fmt_num(m["fp32_gflops"].get<double>(), 1)
              << " GFLOP/s (SGEMM), " << m["threads"] << " threads\n";
  }
}

}  // namespace

void register_doctor(CLI::App& root) {
  auto* cmd = root.add_subcommand("doctor", "Print what this build and machine are");
  auto opts = std::make_shared<CommonOptions>();
  auto no_probe = std::make_shared<bool>(false);
  // No --seed: nothing in the report is random.
  add_json_flag(*cmd, *opts);
  add_threads_flag(*cmd, *opts);
  cmd->add_flag("--no-probe", *no_probe, "Skip measuring memory bandwidth and FLOP/s");
  cmd->callback([opts, no_probe] {
    const Json j = doctor_report(!*no_probe, opts->threads);
    if (opts->json) {
      write_json(std::cout, j);
    } else {
      print_text(j);
    }
  });
}

}  // namespace gearbox::apps
