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
  const auto& db = ProfileDb::shared();
  const auto r = run_estimate_check(db, ModelCatalog::shared());
  const auto prof = run_profiler_check(db);
  auto groups = [](const std::vector<ErrorGroup>& g) {
    Json a = Json::array();
    for (const auto& e : g) {
      a.push_back({{"group", e.key},
                   {"entries", e.entries},
                   {"mape_pct", e.mape},
                   {"mape_model_pct", e.mape_model}});
    }
    return a;
  };
  auto rows = [](const std::vector<EstimateRow>& v) {
    Json a = Json::array();
    for (const auto& e : v) {
      a.push_back({{"model", e.model_key},
                   {"placement", e.placement_key},
                   {"measured_s", e.measured_s},
                   {"predicted_s", e.predicted_s},
                   {"model_s", e.model_s},
                   {"calibration", e.calibration},
                   {"residual_level", e.residual_level}});
    }
    return a;
  };
  if (common.json) {
    Json eff = Json::object();
    for (const auto& [t, v] : r.params.efficiency) eff[t] = v;
    write_json(std::cout,
               {{"reference", "prof_database_optimal.json (measured best-plan e2e)"},
                {"calibration_entries", r.calibration_entries},
                {"check_entries", r.check_entries},
                {"mape_calibration_pct", r.mape_calibration},
                {"mape_check_pct", r.mape_check},
                {"median_check_pct", r.median_check},
                {"mape_calibration_model_pct", r.mape_calibration_model},
                {"mape_check_model_pct", r.mape_check_model},
                {"median_check_model_pct", r.median_check_model},
                {"check_entries_with_residual", r.check_with_residual},
                {"check_entries_with_placement_residual", r.check_with_placement_residual},
                {"mape_check_with_residual_pct", r.mape_check_with_residual},
                {"mape_check_without_residual_pct", r.mape_check_without_residual},
                {"check_entries_predicted_oom", r.predicted_oom},
                {"artifact_profiler",
                 {{"entries", prof.entries}, {"mape_pct", prof.mape}, {"median_pct", prof.median}}},
                {"by_gpus", groups(r.by_gpus)},
                {"by_nodes", groups(r.by_nodes)},
                {"by_family", groups(r.by_family)},
                {"by_gpu_type", groups(r.by_gpu_type)},
                {"by_model", groups(r.by_model)},
                {"entries", rows(r.rows)},
                {"params",
                 {{"efficiency", eff},
                  {"half_batch", r.params.half_batch},
                  {"act_coeff", r.params.act_coeff},
                  {"stage_microbatches", r.params.stage_microbatches},
                  {"tp_bytes", r.params.tp_bytes},
                  {"intra_link", r.params.intra_link},
                  {"inter_link", r.params.inter_link},
                  {"host_alpha_s", r.params.host_alpha},
                  {"host_penalty", r.params.host_penalty},
                  {"dp_overlap", r.params.dp_overlap},
                  {"residuals", r.params.log_residual.size()}}}});
    return;
  }
  std::cout << "analytical estimator vs measured best-plan iteration time (optimal table)\n"
            << "calibrated on " << r.calibration_entries << " entries, checked on "
            << r.check_entries << " others (target 3-8%)\n"
            << "  closed-form model:        held-out MAPE " << fmt_num(r.mape_check_model, 1)
            << "% (median " << fmt_num(r.median_check_model, 1) << "%), calibration half "
            << fmt_num(r.mape_calibration_model, 1) << "%\n"
            << "  + profiled residuals:     held-out MAPE " << fmt_num(r.mape_check, 1)
            << "% (median " << fmt_num(r.median_check, 1) << "%); " << r.check_with_residual
            << " entries with their model size's residual "
            << fmt_num(r.mape_check_with_residual, 1) << "%, "
            << r.check_entries - r.check_with_residual << " without it "
            << fmt_num(r.mape_check_without_residual, 1) << "% (of which "
            << r.check_with_placement_residual << " with their placement's)\n"
            << "  artifact's own profiler (fastest estimate_all plan) on " << prof.entries
            << " entries: MAPE " << fmt_num(prof.mape, 1) << "% (median " << fmt_num(prof.median, 1)
            << "%)\n";
  for (const auto* g : {&r.by_gpus, &r.by_nodes, &r.by_family, &r.by_gpu_type, &r.by_model}) {
    TextTable t({"group", "entries", "MAPE %", "model-only MAPE %"});
    for (const auto& e : *g) {
      t.add_row({e.key, std::to_string(e.entries), fmt_num(e.mape, 1), fmt_num(e.mape_model, 1)});
    }
    t.print(std::cout);
  }
}
}  // namespace

void register_estimate_check(CLI::App& sched) {
  auto o = std::make_shared<CommonOptions>();
  auto* cmd = sched.add_subcommand(
      "estimate-check", "Analytical estimator's error against the profile database (MAPE)");
  // No --threads or --seed: calibration is a deterministic sequential fit.
  add_json_flag(*cmd, *o);
  cmd->callback([o] { run_check(*o); });
}

}  // namespace gearbox::apps::sched_cli
