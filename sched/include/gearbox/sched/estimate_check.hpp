// `gearbox sched estimate-check`: the analytical estimator calibrated on half of the
// artifact's optimal table (even entries) and checked on the other half, as the mean absolute
// percentage error of its best-plan iteration time against the measured one: the closed-form
// model alone, and with the profiled residuals (same model size and placement, another batch).
#pragma once

#include <string>
#include <vector>

#include "gearbox/sched/analytical_estimator.hpp"

namespace gearbox::sched {

struct ErrorGroup {
  std::string key;  // "4 GPUs", "bert", ...
  int entries = 0;
  double mape = 0;        // percent, with residuals
  double mape_model = 0;  // percent, closed-form model alone
};

struct EstimateRow {
  std::string model_key, placement_key;
  double measured_s = 0, predicted_s = 0, model_s = 0;
  bool calibration = false;  // used to fit (else held out)
  int residual_level = 0;    // 0 none, 1 its placement's, 2 its model size's on the placement
};

struct EstimateCheck {
  int calibration_entries = 0, check_entries = 0;
  double mape_calibration = 0, mape_check = 0;              // percent, with residuals
  double mape_calibration_model = 0, mape_check_model = 0;  // percent, model alone
  double median_check = 0, median_check_model = 0;          // percent
  int check_with_residual = 0;  // held-out entries whose model size x placement was profiled
  int check_with_placement_residual = 0;  // held-out entries corrected by a placement residual
  double mape_check_with_residual = 0, mape_check_without_residual = 0;  // percent
  int predicted_oom = 0;  // check entries where no plan fits our memory model (fastest used)
  std::vector<ErrorGroup> by_gpus, by_nodes, by_family, by_gpu_type, by_model;
  AnalyticalParams params;
  std::vector<EstimateRow> rows;  // every entry, in table order
};

// Calibrates on the even entries and measures on the odd ones.
EstimateCheck run_estimate_check(const ProfileDb& db, const ModelCatalog& models);

// Mean absolute percentage error (percent) of the artifact's own profiler against the optimal
// table: the fastest non-null estimate_all plan per entry that both tables hold.
struct ProfilerCheck {
  int entries = 0;
  double mape = 0, median = 0;  // percent
};
ProfilerCheck run_profiler_check(const ProfileDb& db);

}  // namespace gearbox::sched
