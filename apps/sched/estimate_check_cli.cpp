// `gearbox sched estimate-check`: the analytical estimator's error against the database.
#include <iostream>
#include <memory>

#include "gearbox/core/cli.hpp"
#include "gearbox/core/output.hpp"
#include "gearbox/sched/estimate_check.hpp"
#include "sched_commands.hpp"

namespace gearbox::apps::sched_cli {

namespace {
void run_check(const CommonOptions& common) {
  using namespace gearbox::sched;
  const auto r = run_estimate_check(ProfileDb::shared(), ModelCatalog::shared());
  auto groups = [](const std::vector<ErrorGroup>& g) {
    Json a = Json::array();
    for (const auto& e : g)
      a.push_back({{"group", e.key}, {"entries", e.entries}, {"mape_pct", e.mape}});
    return a;
  };
  auto rows = [](const std::vector<EstimateRow>& v) {
    Json a = Json::array();
    for (const auto& e : v) {
      a.push_back({{"model", e.model_key},
                   {"placement", e.placement_key},
                   {"measured_s", e.measured_s},
                   {"predicted_s", e.predicted_s},
                   {"calibration", e.calibration}});
    }
    return a;
  };
  if (common.json) {
    Json eff = Json::object();
    for (const auto& [t, v] : r.params.efficiency) eff[t] = v;
    write_json(std::cout, {{"reference", "prof_database_optimal.json (measured best-plan e2e)"},
                           {"calibration_entries", r.calibration_entries},
                           {"check_entries", r.check_entries},
                           {"mape_calibration_pct", r.mape_calibration},
                           {"mape_check_pct", r.mape_check},
                           {"check_entries_predicted_oom", r.predicted_oom},
                           {"by_gpus", groups(r.by_gpus)},
                           {"by_family", groups(r.by_family)},
                           {"by_gpu_type", groups(r.by_gpu_type)},
                           {"entries", rows(r.rows)},
                           {"params",
                            {{"efficiency", eff},
                             {"half_batch", r.params.half_batch},
                             {"act_coeff", r.params.act_coeff},
                             {"comm_efficiency", r.params.comm_efficiency},
                             {"dp_overlap", r.params.dp_overlap}}}});
    return;
  }
  std::cout << "analytical estimator vs measured best-plan iteration time (optimal table)\n"
            << "calibrated on " << r.calibration_entries << " entries: MAPE "
            << fmt_num(r.mape_calibration, 1) << "%; checked on " << r.check_entries
            << " others: MAPE " << fmt_num(r.mape_check, 1) << "% (target 3-8%)\n";
  for (const auto* g : {&r.by_gpus, &r.by_family, &r.by_gpu_type}) {
    TextTable t({"group", "entries", "MAPE %"});
    for (const auto& e : *g) t.add_row({e.key, std::to_string(e.entries), fmt_num(e.mape, 1)});
    t.print(std::cout);
  }
}
}  // namespace

void register_estimate_check(CLI::App& sched) {
  auto o = std::make_shared<CommonOptions>();
  auto* cmd = sched.add_subcommand(
      "estimate-check", "Analytical estimator's error against the profile database (MAPE)");
  add_common_flags(*cmd, *o);
  cmd->callback([o] { run_check(*o); });
}

}  // namespace gearbox::apps::sched_cli
