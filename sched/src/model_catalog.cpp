#include "gearbox/sched/model_catalog.hpp"

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "gearbox/core/error.hpp"
#include "gearbox/core/paths.hpp"
#include "json_input.hpp"

namespace gearbox::sched {

double parse_param_count(std::string_view s) {
  if (s.size() < 2) return 0;
  const char unit = s.back();
  double scale = unit == 'B' ? 1e9 : unit == 'M' ? 1e6 : unit == 'K' ? 1e3 : 0;
  if (scale == 0) return 0;
  const std::string num(s.substr(0, s.size() - 1));
  char* end = nullptr;
  const double v = std::strtod(num.c_str(), &end);
  if (end == num.c_str() || *end != '\0' || !(v > 0)) return 0;
  return v * scale;
}

namespace {
// An optional integer field of `j` (an object), else `fallback`; Error::input naming the field
// when present with another type or out of range.
int int_or(const nlohmann::json& j, const char* key, int fallback, const std::string& origin,
           const std::string& where) {
  if (!j.contains(key)) return fallback;
  return static_cast<int>(json_int(j.at(key), {origin, where + "." + key}, 0, 1'000'000'000));
}

const nlohmann::json& object_at(const nlohmann::json& j, const char* key, const std::string& origin,
                                const std::string& field) {
  if (!j.is_object() || !j.contains(key) || !j.at(key).is_object()) {
    throw Error::input("missing or not an object").at(origin).field(field).expected("an object");
  }
  return j.at(key);
}
}  // namespace

ModelCatalog ModelCatalog::load(const std::filesystem::path& spec_json) {
  const std::string origin = spec_json.string();
  const nlohmann::json doc = read_json_file(spec_json);
  const auto& models = object_at(doc, "models", origin, "models");
  const auto& cfgs =
      object_at(models, "supported_model_cfgs", origin, "models.supported_model_cfgs");
  const nlohmann::json hyper =
      models.contains("model_hyperparams")
          ? object_at(models, "model_hyperparams", origin, "models.model_hyperparams")
          : nlohmann::json::object();
  ModelCatalog cat;
  for (const auto& [fname, cfg] : cfgs.items()) {
    const std::string where = "models.supported_model_cfgs." + printable(fname);
    if (!cfg.is_object()) {
      throw Error::input("not an object").at(origin).field(where).found(json_kind(cfg));
    }
    ModelFamily fam;
    fam.name = fname;
    fam.coarse_layers = int_or(cfg, "layer_num", 1, origin, where);
    if (!cfg.contains("param_num") || !cfg["param_num"].is_array()) {
      throw Error::input("family without sizes").at(origin).field(where + ".param_num");
    }
    if (cfg.contains("batch_size")) {
      const auto& batches = cfg.at("batch_size");
      if (!batches.is_array()) {
        throw Error::input("not an array").at(origin).field(where + ".batch_size");
      }
      for (std::size_t i = 0; i < batches.size(); ++i) {
        const std::string f = where + ".batch_size[" + std::to_string(i) + "]";
        fam.batch_sizes.push_back(static_cast<int>(json_int(batches[i], {origin, f}, 1, 1 << 20)));
      }
    }
    const auto& sizes = cfg.at("param_num");
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      const std::string f = where + ".param_num[" + std::to_string(i) + "]";
      ModelSize s;
      s.name = json_string(sizes[i], {origin, f});
      s.params = parse_param_count(s.name);
      if (s.params <= 0) {
        throw Error::input("bad parameter count").at(origin).field(f).found(printable(s.name));
      }
      const std::string hw =
          "models.model_hyperparams." + printable(fname) + "." + printable(s.name);
      const nlohmann::json h =
          hyper.contains(fname) && hyper.at(fname).is_object() && hyper.at(fname).contains(s.name)
              ? hyper.at(fname).at(s.name)
              : nlohmann::json::object();
      if (!h.is_object()) throw Error::input("not an object").at(origin).field(hw);
      s.layers = int_or(h, "num_layers", int_or(h, "layer_num", fam.coarse_layers, origin, hw),
                        origin, hw);
      s.hidden = int_or(h, "hidden_size", 0, origin, hw);
      s.heads = int_or(h, "num_heads", 0, origin, hw);
      s.seq_len = int_or(h, "seq_len", 0, origin, hw);
      s.vocab = int_or(h, "vocab_size", 0, origin, hw);
      s.experts = int_or(h, "num_experts", 0, origin, hw);
      s.width_factor = int_or(h, "width_factor", 0, origin, hw);
      s.channels = int_or(h, "num_channels", 0, origin, hw);
      s.image_size = int_or(h, "image_size", 0, origin, hw);
      s.fp16 =
          !h.contains("dtype") || json_string(h.at("dtype"), {origin, hw + ".dtype"}) == "float16";
      fam.sizes.push_back(std::move(s));
    }
    cat.families_.push_back(std::move(fam));
  }
  return cat;
}

const ModelCatalog& ModelCatalog::shared() {
  static const ModelCatalog cat = [] {
    const auto dir = data_dir();
    if (!dir) throw Error::runtime("shared data folder not found (set GEARBOX_DATA)");
    return load(*dir / "crius" / "hardware_model_spec.json");
  }();
  return cat;
}

int ModelCatalog::find_family(std::string_view name) const {
  for (std::size_t i = 0; i < families_.size(); ++i)
    if (families_[i].name == name) return static_cast<int>(i);
  return -1;
}

ModelRef ModelCatalog::find(std::string_view model_name) const {
  std::size_t cut = model_name.find("__");
  std::size_t skip = 2;
  if (cut == std::string_view::npos) {
    cut = model_name.rfind('-');
    skip = 1;
  }
  if (cut == std::string_view::npos) return {};
  const int f = find_family(model_name.substr(0, cut));
  if (f < 0) return {};
  const auto size = model_name.substr(cut + skip);
  const auto& sizes = families_[static_cast<std::size_t>(f)].sizes;
  for (std::size_t i = 0; i < sizes.size(); ++i)
    if (sizes[i].name == size) return {f, static_cast<int>(i)};
  return {};
}

ModelRef ModelCatalog::get(std::string_view model_name) const {
  const ModelRef m = find(model_name);
  if (m.family < 0) {
    throw Error::input("unknown model")
        .expected("one of " + known_models())
        .found(std::string(model_name));
  }
  return m;
}

std::string ModelCatalog::known_models() const {
  std::string out;
  for (const auto& f : families_)
    for (const auto& s : f.sizes) out += (out.empty() ? "" : ", ") + f.name + "__" + s.name;
  return out;
}

std::string ModelCatalog::profile_key(ModelRef m, int batch) const {
  return family(m.family).name + "_" + size(m).name + "_" + std::to_string(batch);
}

std::string ModelCatalog::display_name(ModelRef m) const {
  return family(m.family).name + "-" + size(m).name;
}

}  // namespace gearbox::sched
