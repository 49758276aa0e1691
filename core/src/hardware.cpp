#include "gearbox/core/hardware.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>

#include "gearbox/core/error.hpp"

namespace gearbox {

namespace {
#include "gpu_catalog_json.inc"  // defines kGpuCatalogJson (generated from core/data)

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

double number_field(const nlohmann::json& e, const char* key, const std::string& where) {
  if (!e.contains(key)) throw Error::input("missing field").at(where).field(key);
  const auto& v = e.at(key);
  if (!v.is_number()) {
    throw Error::input("wrong type").at(where).field(key).expected("a number").found(v.dump());
  }
  const double d = v.get<double>();
  if (d < 0) {
    throw Error::input("negative value").at(where).field(key).expected(">= 0").found(v.dump());
  }
  return d;
}
}  // namespace

const GpuCatalog& GpuCatalog::builtin() {
  static const GpuCatalog catalog =
      from_json(nlohmann::json::parse(kGpuCatalogJson), "builtin gpu_catalog.json");
  return catalog;
}

GpuCatalog GpuCatalog::from_json(const nlohmann::json& doc, const std::string& origin) {
  if (!doc.is_object() || !doc.contains("gpus") || !doc.at("gpus").is_array()) {
    throw Error::input("not a GPU catalog").at(origin).field("gpus").expected("an array");
  }
  GpuCatalog cat;
  std::size_t i = 0;
  for (const auto& e : doc.at("gpus")) {
    const std::string where = origin + " gpus[" + std::to_string(i++) + "]";
    if (!e.is_object() || !e.contains("name") || !e.at("name").is_string()) {
      throw Error::input("entry without a name").at(where).field("name").expected("a string");
    }
    GpuSpec g;
    g.name = e.at("name").get<std::string>();
    if (cat.find(g.name)) throw Error::input("duplicate GPU name").at(where).found(g.name);
    if (e.contains("aliases")) {
      for (const auto& a : e.at("aliases")) {
        if (!a.is_string()) throw Error::input("alias is not a string").at(where).field("aliases");
        g.aliases.push_back(a.get<std::string>());
      }
    }
    g.memory_gb = number_field(e, "memory_gb", where);
    g.bf16_tflops = number_field(e, "bf16_tflops", where);
    g.fp16_tflops = number_field(e, "fp16_tflops", where);
    g.fp32_tflops = number_field(e, "fp32_tflops", where);
    g.mem_bw_gbs = number_field(e, "mem_bw_gbs", where);
    g.nvlink_gbs = number_field(e, "nvlink_gbs", where);
    g.pcie_gbs = number_field(e, "pcie_gbs", where);
    g.network_gbs = number_field(e, "network_gbs", where);
    if (!e.contains("source") || !e.at("source").is_string() ||
        e.at("source").get<std::string>().empty()) {
      throw Error::input("every figure needs a source").at(where).field("source");
    }
    g.source = e.at("source").get<std::string>();
    cat.gpus_.push_back(std::move(g));
  }
  return cat;
}

GpuCatalog GpuCatalog::load(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw Error::input("cannot open GPU catalog").at(path.string());
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error::input(std::string("invalid JSON: ") + e.what()).at(path.string());
  }
  return from_json(doc, path.string());
}

const GpuSpec* GpuCatalog::find(std::string_view name) const {
  const std::string key = lower(name);
  for (const auto& g : gpus_) {
    if (lower(g.name) == key) return &g;
    for (const auto& a : g.aliases)
      if (lower(a) == key) return &g;
  }
  return nullptr;
}

const GpuSpec& GpuCatalog::get(std::string_view name) const {
  if (const GpuSpec* g = find(name)) return *g;
  std::string known;
  for (const auto& g : gpus_) known += (known.empty() ? "" : ", ") + g.name;
  throw Error::input("unknown GPU type")
      .field("gpu")
      .expected("one of " + known)
      .found(std::string(name));
}

}  // namespace gearbox
