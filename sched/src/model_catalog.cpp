#include "gearbox/sched/model_catalog.hpp"

#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "gearbox/core/error.hpp"
#include "gearbox/core/paths.hpp"

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
int int_or(const nlohmann::json& j, const char* key, int fallback) {
  return j.contains(key) && j.at(key).is_number() ? j.at(key).get<int>() : fallback;
}
}  // namespace

ModelCatalog ModelCatalog::load(const std::filesystem::path& spec_json) {
  std::ifstream in(spec_json);
  if (!in) throw Error::runtime("cannot open model spec").at(spec_json.string());
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error::input(std::string("malformed JSON: ") + e.what()).at(spec_json.string());
  }
  const std::string origin = spec_json.string();
  if (!doc.contains("models") || !doc["models"].contains("supported_model_cfgs")) {
    throw Error::input("no model list").at(origin).field("models.supported_model_cfgs");
  }
  const auto& cfgs = doc["models"]["supported_model_cfgs"];
  const nlohmann::json hyper = doc["models"].contains("model_hyperparams")
                                   ? doc["models"]["model_hyperparams"]
                                   : nlohmann::json::object();
  ModelCatalog cat;
  for (const auto& [fname, cfg] : cfgs.items()) {
    ModelFamily fam;
    fam.name = fname;
    fam.coarse_layers = int_or(cfg, "layer_num", 1);
    if (!cfg.contains("param_num") || !cfg["param_num"].is_array()) {
      throw Error::input("family without sizes").at(origin).field(fname + ".param_num");
    }
    for (const auto& b : cfg.value("batch_size", nlohmann::json::array()))
      fam.batch_sizes.push_back(b.get<int>());
    for (const auto& p : cfg["param_num"]) {
      ModelSize s;
      s.name = p.get<std::string>();
      s.params = parse_param_count(s.name);
      if (s.params <= 0) {
        throw Error::input("bad parameter count")
            .at(origin)
            .field(fname + ".param_num")
            .found(s.name);
      }
      const nlohmann::json h = hyper.contains(fname) && hyper[fname].contains(s.name)
                                   ? hyper[fname][s.name]
                                   : nlohmann::json::object();
      s.layers = int_or(h, "num_layers", int_or(h, "layer_num", fam.coarse_layers));
      s.hidden = int_or(h, "hidden_size", 0);
      s.heads = int_or(h, "num_heads", 0);
      s.seq_len = int_or(h, "seq_len", 0);
      s.vocab = int_or(h, "vocab_size", 0);
      s.experts = int_or(h, "num_experts", 0);
      s.width_factor = int_or(h, "width_factor", 0);
      s.channels = int_or(h, "num_channels", 0);
      s.image_size = int_or(h, "image_size", 0);
      s.fp16 = h.value("dtype", std::string("float16")) == "float16";
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
