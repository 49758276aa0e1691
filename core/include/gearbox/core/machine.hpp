// The CPU this process runs on: static facts (cores, vector extensions) and measured
// constants for cost models (memory bandwidth by a STREAM-like triad, FP32 FLOP/s by an SGEMM).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace gearbox {

struct CpuInfo {
  std::string model;  // from /proc/cpuinfo, "unknown" if unreadable
  int logical_cores = 0;
  bool avx2 = false, fma = false, avx512f = false;
};

// Reads the CPU model and feature flags of this machine.
CpuInfo cpu_info();

// The BLAS library linked in, as it describes itself (OpenBLAS's config string and threads).
std::string blas_info();

struct MachineProfile {
  int threads = 1;              // threads the figures were measured with
  double mem_bw_gbs = 0;        // triad bytes (2 reads + 1 write) per second, best of runs
  double fp32_gflops = 0;       // SGEMM FLOP/s, best of runs
  double seconds_to_probe = 0;  // how long measuring took
  nlohmann::json to_json() const;
  static MachineProfile from_json(const nlohmann::json& j);
};

// Measures memory bandwidth and FP32 throughput with `threads` threads (about half a second).
MachineProfile probe_machine(int threads);

// The profile for `threads`, read from the cache (cache_dir()/machine-<cpu>-<threads>.json)
// when present, else measured and written there. Cost models call this.
MachineProfile machine_profile(int threads);

}  // namespace gearbox
