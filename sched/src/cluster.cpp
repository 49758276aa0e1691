#include "gearbox/sched/cluster.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include <nlohmann/json.hpp>

#include "gearbox/core/error.hpp"
#include "json_input.hpp"

namespace gearbox::sched {

namespace {
std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
}  // namespace

int artifact_node_capacity(std::string_view type) {
  const std::string t = lower(type);
  if (t == "a100") return 4;
  if (t == "v100") return 16;
  if (t == "a40" || t == "a10") return 2;
  if (t == "p100" || t == "1080ti" || t == "3090" || t == "h100") return 8;
  if (t == "l20") return 16;
  return 0;
}

int gpu_rank(std::string_view type, const GpuSpec& spec) {
  // Artifact order, low to high: a10, a40, v100, a100 (resources/hardware_specs.py).
  static const char* order[] = {"1080ti", "p100", "a10", "a40", "3090", "v100", "a100"};
  const std::string t = lower(type);
  for (int i = 0; i < 7; ++i)
    if (t == order[i]) return (i + 1) * 100;
  return static_cast<int>(spec.fp16_tflops);  // others by tensor FLOP/s (H100: 989)
}

int Cluster::total_gpus() const {
  int n = 0;
  for (const auto& p : pools_) n += p.gpus();
  return n;
}

int Cluster::find_pool(std::string_view type) const {
  const std::string t = lower(type);
  for (std::size_t i = 0; i < pools_.size(); ++i) {
    if (pools_[i].type == t) return static_cast<int>(i);
    for (const auto& a : pools_[i].spec->aliases)
      if (lower(a) == t) return static_cast<int>(i);
    if (lower(pools_[i].spec->name) == t) return static_cast<int>(i);
  }
  return -1;
}

void Cluster::add_pool(std::string_view type, int nodes, int gpus_per_node) {
  const GpuSpec& spec = GpuCatalog::builtin().get(type);
  if (nodes <= 0 || gpus_per_node <= 0 || nodes > 1000000 || gpus_per_node > 1024) {
    throw Error::input("bad pool size")
        .field(std::string(type))
        .expected("nodes in 1..1e6 and gpus_per_node in 1..1024")
        .found(std::to_string(nodes) + " x " + std::to_string(gpus_per_node));
  }
  if (find_pool(type) >= 0) throw Error::input("duplicate GPU type").field(std::string(type));
  const long long total =
      static_cast<long long>(total_gpus()) + static_cast<long long>(nodes) * gpus_per_node;
  if (total > kMaxClusterGpus) {
    throw Error::input("cluster too large")
        .field(std::string(type))
        .expected("at most " + std::to_string(kMaxClusterGpus) + " GPUs in all pools")
        .found(std::to_string(nodes) + " x " + std::to_string(gpus_per_node) + " GPUs, " +
               std::to_string(total) + " in all");
  }
  GpuPool p;
  p.type = lower(type);
  p.spec = &spec;
  p.nodes = nodes;
  p.gpus_per_node = gpus_per_node;
  p.rank = gpu_rank(type, spec);
  pools_.push_back(std::move(p));
}

Cluster Cluster::arena1280() {
  Cluster c;
  c.name_ = "arena-1280";
  c.add_pool("a100", 80, 4);
  c.add_pool("v100", 20, 16);
  c.add_pool("a40", 160, 2);
  c.add_pool("a10", 160, 2);
  return c;
}

Cluster Cluster::with_nodes(const std::vector<int>& nodes) const {
  Cluster c = *this;
  for (std::size_t p = 0; p < c.pools_.size() && p < nodes.size(); ++p)
    c.pools_[p].nodes = std::clamp(nodes[p], 0, pools_[p].nodes);
  return c;
}

Cluster Cluster::scaled(int gpus) {
  if (gpus < 8 || gpus > 4000000) {
    throw Error::usage("bad cluster size")
        .field("gpus")
        .expected("8..4000000")
        .found(std::to_string(gpus));
  }
  const Cluster base = arena1280();
  Cluster c;
  c.name_ = "arena-" + std::to_string(gpus);
  const double f = gpus / 1280.0;
  for (const auto& p : base.pools_) {
    c.add_pool(p.type, std::max(1, static_cast<int>(std::lround(p.nodes * f))), p.gpus_per_node);
  }
  return c;
}

namespace {
// c.add_pool(), with a refusal naming the file and the field that sized the pool.
void add_pool_from(Cluster& c, const std::string& origin, const std::string& field,
                   const std::string& type, int nodes, int gpus_per_node) {
  try {
    c.add_pool(type, nodes, gpus_per_node);
  } catch (Error& e) {
    e.at(origin).field(field);
    throw;
  }
}
}  // namespace

Cluster Cluster::load(const std::filesystem::path& path) {
  const std::string origin = path.string();
  const nlohmann::json doc = read_json_file(path);
  Cluster c;
  c.name_ = path.stem().string();
  auto get_int = [&](const nlohmann::json& j, const char* key, const std::string& where) {
    if (!j.is_object() || !j.contains(key) || !j.at(key).is_number_integer()) {
      throw Error::input("missing or non-integer field").at(origin).field(where + "." + key);
    }
    return j.at(key).get<long long>();
  };
  auto checked = [&](long long v, const std::string& where) {
    if (v <= 0 || v > 1000000) {
      throw Error::input("out of range")
          .at(origin)
          .field(where)
          .expected("1..1000000")
          .found(std::to_string(v));
    }
    return static_cast<int>(v);
  };
  if (doc.is_array()) {  // the artifact's sim_cluster_spec.json
    for (const auto& entry : doc) {
      if (!entry.is_object()) throw Error::input("expected an object").at(origin);
      for (const auto& [type, v] : entry.items()) {
        const int cap = artifact_node_capacity(type);
        if (cap == 0) {
          throw Error::input("GPU type without a known node capacity")
              .at(origin)
              .field(printable(type));
        }
        const std::string where = printable(type) + ".node_num";
        add_pool_from(c, origin, where, type,
                      checked(get_int(v, "node_num", printable(type)), where), cap);
      }
    }
  } else if (doc.is_object() && doc.contains("pools") && doc["pools"].is_array()) {
    if (doc.contains("name") && doc["name"].is_string()) c.name_ = doc["name"];
    std::size_t i = 0;
    for (const auto& p : doc["pools"]) {
      const std::string where = "pools[" + std::to_string(i++) + "]";
      if (!p.is_object() || !p.contains("gpu") || !p["gpu"].is_string()) {
        throw Error::input("pool without a GPU type").at(origin).field(where + ".gpu");
      }
      const std::string type = p["gpu"];
      if (!GpuCatalog::builtin().find(type)) {
        throw Error::input("unknown GPU type")
            .at(origin)
            .field(where + ".gpu")
            .found(printable(type));
      }
      const int nodes = checked(get_int(p, "nodes", where), where + ".nodes");
      const int gpn = checked(get_int(p, "gpus_per_node", where), where + ".gpus_per_node");
      add_pool_from(c, origin, where + ".nodes", type, nodes, gpn);
    }
  } else {
    throw Error::input("not a cluster description")
        .at(origin)
        .expected("{\"pools\": [...]} or the artifact's [{type: {node_num}}]");
  }
  if (c.pools_.empty()) throw Error::input("cluster without GPUs").at(origin);
  return c;
}

Cluster Cluster::from_spec(std::string_view spec) {
  if (spec == "arena-1280" || spec == "arena") return arena1280();
  if (spec.rfind("arena:gpus=", 0) == 0) {
    const auto num = spec.substr(11);
    int g = 0;
    const auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), g);
    if (ec != std::errc() || ptr != num.data() + num.size()) {
      throw Error::usage("bad cluster spec")
          .field("--cluster")
          .expected("arena:gpus=N")
          .found(std::string(spec));
    }
    return scaled(g);
  }
  return load(std::filesystem::path(spec));
}

}  // namespace gearbox::sched
