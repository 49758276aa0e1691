// Shared helpers for the sched tests: a hand-written estimator whose iteration times are known.
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <tuple>

#include "gearbox/core/paths.hpp"
#include "gearbox/testing/temp_dir.hpp"
#include "gearbox/sched/estimator.hpp"
#include "gearbox/sched/model_catalog.hpp"
#include "gearbox/testing/data.hpp"

namespace gearbox::sched::test {

// A small model catalog (bert 760M/1.3B, moe 690M), independent of the shared data.
inline ModelCatalog tiny_catalog() {
  const char* json = R"({"models": {"supported_model_cfgs": {
    "bert": {"param_num": ["760M", "1.3B"], "batch_size": [128, 256], "layer_num": 6},
    "moe": {"param_num": ["690M"], "batch_size": [256], "layer_num": 8}},
    "model_hyperparams": {"bert": {"760M": {"seq_len": 1024, "hidden_size": 1536,
      "num_layers": 24, "num_heads": 16, "vocab_size": 51200, "dtype": "float16"},
      "1.3B": {"seq_len": 1024, "hidden_size": 2048, "num_layers": 24, "num_heads": 32,
      "vocab_size": 51200, "dtype": "float16"}}}}})";
  const gearbox::testing::TempDir dir;  // this call's own folder: tests may run in parallel
  return ModelCatalog::load(dir.write("tiny_spec.json", json));
}

// Iteration times given by a function of (model family, GPU type, GPU count); +inf = cannot run.
class FakeEstimator : public Estimator {
 public:
  using Fn = std::function<double(const JobShape&, const std::string& type, int gpus)>;
  explicit FakeEstimator(Fn fn, Fn dp = nullptr) : fn_(std::move(fn)), dp_(std::move(dp)) {}
  std::string name() const override { return "fake"; }
  double best_iter_time(const JobShape& j, const GpuPool& p, int h, int d) const override {
    return fn_(j, p.type, h * d);
  }
  double dp_iter_time(const JobShape& j, const GpuPool& p, int h, int d, bool) const override {
    return dp_ ? dp_(j, p.type, h * d) : fn_(j, p.type, h * d);
  }

 private:
  Fn fn_, dp_;
};

// True when the shared data folder is there. When it is not and GEARBOX_REQUIRE_DATA=1, the
// calling test is marked failed (it then skips, but the failure stands).
inline bool have_data() {
  if (data_dir().has_value()) return true;
  if (gearbox::testing::data_required()) {
    ADD_FAILURE() << "required data absent (GEARBOX_REQUIRE_DATA=1): the shared data folder";
  }
  return false;
}

}  // namespace gearbox::sched::test
