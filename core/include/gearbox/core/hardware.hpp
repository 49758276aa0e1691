// The hardware catalog: GPU types as data (memory, peak FLOP/s, bandwidths, and the source of
// each figure). The built-in catalog is core/data/gpu_catalog.json, embedded at build time;
// another file of the same shape can be loaded instead.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace gearbox {

struct GpuSpec {
  std::string name;                  // canonical name, e.g. "A100-40"
  std::vector<std::string> aliases;  // other spellings, e.g. "a100"
  double memory_gb = 0;
  double bf16_tflops = 0;  // dense; 0 = not supported
  double fp16_tflops = 0;
  double fp32_tflops = 0;
  double mem_bw_gbs = 0;
  double nvlink_gbs = 0;  // 0 = no NVLink
  double pcie_gbs = 0;
  double network_gbs = 0;
  std::string source;
};

class GpuCatalog {
 public:
  // The catalog compiled into the binary.
  static const GpuCatalog& builtin();
  // Parses a catalog document; `origin` names it in errors. Throws Error::input naming the
  // entry and field when a field is missing, negative or of the wrong type.
  static GpuCatalog from_json(const nlohmann::json& doc, const std::string& origin);
  // Reads and parses a catalog file.
  static GpuCatalog load(const std::filesystem::path& path);

  // The GPU named `name` or one of its aliases (case-insensitive); nullptr if unknown.
  const GpuSpec* find(std::string_view name) const;
  // As find(), but throws Error::input listing the known names when unknown.
  const GpuSpec& get(std::string_view name) const;
  const std::vector<GpuSpec>& gpus() const { return gpus_; }

 private:
  std::vector<GpuSpec> gpus_;
};

}  // namespace gearbox
