// The training workloads the Crius artifact knows: model families (wide_resnet, bert, moe),
// their sizes in search order, and each size's hyperparameters, read from the artifact's
// hardware_model_spec.json. A model is named "<family>__<size>" in traces.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace gearbox::sched {

struct ModelSize {
  std::string name;   // e.g. "1.3B"
  double params = 0;  // parameters, from the name (1.3B -> 1.3e9)
  int layers = 0;     // transformer layers, or ResNet depth
  int hidden = 0;     // hidden size (bert, moe)
  int heads = 0;
  int seq_len = 0;
  int vocab = 0;
  int experts = 0;       // moe
  int width_factor = 0;  // wide_resnet
  int channels = 0;      // wide_resnet base channels
  int image_size = 0;    // wide_resnet
  bool fp16 = true;      // dtype: float16 (else float32)
};

struct ModelFamily {
  std::string name;              // "wide_resnet", "bert", "moe"
  std::vector<ModelSize> sizes;  // in the artifact's param_num order (small to large)
  std::vector<int> batch_sizes;  // batch sizes the artifact profiles
  int coarse_layers = 0;         // supported_model_cfgs layer_num (pipeline stage bound)
};

// A model a job trains: family and size indices into a ModelCatalog.
struct ModelRef {
  int family = -1;
  int size = -1;
};

class ModelCatalog {
 public:
  // Parses hardware_model_spec.json. Throws Error::input naming the file and field.
  static ModelCatalog load(const std::filesystem::path& spec_json);
  // The catalog from the shared data folder (data_dir()/crius); throws Error::runtime if absent.
  static const ModelCatalog& shared();

  const std::vector<ModelFamily>& families() const { return families_; }
  const ModelFamily& family(int f) const { return families_.at(static_cast<std::size_t>(f)); }
  const ModelSize& size(ModelRef m) const {
    return family(m.family).sizes.at(static_cast<std::size_t>(m.size));
  }
  // Index of a family by name, or -1.
  int find_family(std::string_view name) const;
  // "bert__1.3B" or "bert-1.3B" -> ModelRef; nullopt-like {-1,-1} when unknown.
  ModelRef find(std::string_view model_name) const;
  // As find(), but throws Error::input listing every known model.
  ModelRef get(std::string_view model_name) const;
  // "bert__1.3B", ... (every known model, comma separated) for error messages.
  std::string known_models() const;
  // The profile key of the artifact: "<family>_<size>_<batch>", e.g. "bert_1.3B_256".
  std::string profile_key(ModelRef m, int batch) const;
  // "bert-1.3B" for display.
  std::string display_name(ModelRef m) const;

 private:
  std::vector<ModelFamily> families_;
};

// Parses "760M", "1.3B" into a count (7.6e8, 1.3e9); returns 0 when not of that form.
double parse_param_count(std::string_view s);

}  // namespace gearbox::sched
