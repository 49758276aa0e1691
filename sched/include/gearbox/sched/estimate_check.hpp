// `gearbox sched estimate-check`: the analytical estimator calibrated on half of the
// artifact's optimal table (even entries) and checked on the other half, as the mean absolute
// percentage error of its best-plan iteration time against the measured one.
#pragma once

#include <string>
#include <vector>

#include "gearbox/sched/analytical_estimator.hpp"

namespace gearbox::sched {

struct ErrorGroup {
  std::string key;  // "4 GPUs", "bert", ...
  int entries = 0;
  double mape = 0;  // percent
};

struct EstimateRow {
  std::string model_key, placement_key;
  double measured_s = 0, predicted_s = 0;
  bool calibration = false;  // used to fit (else held out)
};

struct EstimateCheck {
  int calibration_entries = 0, check_entries = 0;
  double mape_calibration = 0, mape_check = 0;  // percent
  int predicted_oom = 0;  // check entries where no plan fits our memory model (fastest used)
  std::vector<ErrorGroup> by_gpus, by_family, by_gpu_type;
  AnalyticalParams params;
  std::vector<EstimateRow> rows;  // every entry, in table order
};

// Calibrates on the even entries and measures on the odd ones.
EstimateCheck run_estimate_check(const ProfileDb& db, const ModelCatalog& models);

}  // namespace gearbox::sched
