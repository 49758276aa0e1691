// `gearbox sched cells`: every Cell of a job with its best plan and estimated iteration time.
#include <iostream>
#include <memory>

#include "gearbox/core/cli.hpp"
#include "gearbox/core/output.hpp"
#include "gearbox/sched/cells.hpp"
#include "gearbox/sched/db_estimator.hpp"
#include "sched_commands.hpp"

namespace gearbox::apps::sched_cli {

namespace {
struct CellsOptions {
  CommonOptions common;  // --json only
  std::string model;
  int batch = 256;
  std::string cluster = "arena-1280";
  bool feasible_only = false;
};

void run_cells(const CellsOptions& o) {
  using namespace gearbox::sched;
  const ModelCatalog& models = ModelCatalog::shared();
  const ModelRef m = models.get(o.model);
  const Cluster cluster = Cluster::from_spec(o.cluster);
  const ProfileDb& db = ProfileDb::shared();
  AnalyticalEstimator est(models);
  est.calibrate(db, CalibrationSplit::kAll);
  DbEstimator dbe(db, models);
  const JobShape job{m, o.batch};
  const auto cells = enumerate_cells(job, cluster, est);
  const std::string mk = models.profile_key(m, o.batch);
  Json arr = Json::array();
  TextTable table({"gpu", "nodes x gpus", "stages", "best dp x tp", "iter s (model)", "mem GB",
                   "db optimal s", "db est. s (same plan)"});
  int feasible = 0;
  for (const auto& c : cells) {
    const GpuPool& pool = cluster.pool(c.placement.pool);
    const std::string pk = placement_key(pool.type, c.placement.hosts, c.placement.per_host);
    const auto opt = db.optimal(mk, pk);
    double est_same = kInfeasible;
    if (c.best) {
      ++feasible;
      if (const auto* plans = db.estimate_all(mk, pk)) {
        for (const auto& p : *plans) {
          if (p.pp == c.best->pp && p.dp == c.best->dp && p.tp == c.best->tp &&
              std::isfinite(p.e2e_s)) {
            est_same = std::min(est_same, p.e2e_s);
          }
        }
      }
    }
    if (o.feasible_only && !c.best) continue;
    Json jc = {{"gpu", pool.type},
               {"gpu_model", pool.spec->name},
               {"nodes", c.placement.hosts},
               {"gpus_per_node", c.placement.per_host},
               {"gpus", c.placement.gpus()},
               {"stages", c.stages},
               {"fits", c.best.has_value()},
               {"min_mem_gb", c.min_mem_gb},
               {"plans_explored", c.plans_explored}};
    if (c.best) {
      jc["best_plan"] = {{"pp", c.best->pp},
                         {"dp", c.best->dp},
                         {"tp", c.best->tp},
                         {"microbatches", c.best->microbatches},
                         {"iter_s", c.best->iter_s},
                         {"compute_s", c.best->compute_s},
                         {"bubble_s", c.best->bubble_s},
                         {"tp_comm_s", c.best->tp_comm_s},
                         {"dp_comm_s", c.best->dp_comm_s},
                         {"pp_comm_s", c.best->pp_comm_s},
                         {"mem_gb", c.best->mem_gb}};
    }
    jc["db_optimal_iter_s"] = opt ? Json(*opt) : Json(nullptr);
    jc["db_estimate_same_plan_s"] = std::isfinite(est_same) ? Json(est_same) : Json(nullptr);
    jc["db_query_iter_s"] = [&] {
      const double t = dbe.best_iter_time(job, pool, c.placement.hosts, c.placement.per_host);
      return std::isfinite(t) ? Json(t) : Json(nullptr);
    }();
    arr.push_back(jc);
    table.add_row({pool.type,
                   std::to_string(c.placement.hosts) + " x " + std::to_string(c.placement.per_host),
                   std::to_string(c.stages),
                   c.best ? std::to_string(c.best->dp) + " x " + std::to_string(c.best->tp) : "OOM",
                   c.best ? fmt_num(c.best->iter_s, 3) : "-",
                   fmt_num(c.best ? c.best->mem_gb : c.min_mem_gb, 1), opt ? fmt_num(*opt, 3) : "-",
                   std::isfinite(est_same) ? fmt_num(est_same, 3) : "-"});
  }
  if (o.common.json) {
    write_json(std::cout, {{"model", models.display_name(m)},
                           {"batch", o.batch},
                           {"cluster", cluster.name()},
                           {"cells", cells.size()},
                           {"feasible_cells", feasible},
                           {"list", arr}});
    return;
  }
  std::cout << models.display_name(m) << " batch " << o.batch << " on " << cluster.name() << ": "
            << cells.size() << " Cells, " << feasible << " fit in memory\n";
  table.print(std::cout);
}
}  // namespace

void register_cells(CLI::App& sched) {
  auto o = std::make_shared<CellsOptions>();
  auto* cmd = sched.add_subcommand(
      "cells", "List a job's Cells (GPU type, nodes x GPUs, stages) with best plan and time");
  cmd->add_option("--model", o->model, "Model, e.g. bert-1.3B or bert__1.3B")->required();
  cmd->add_option("--batch", o->batch, "Global batch size")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--cluster", o->cluster, "arena-1280, arena:gpus=N or a cluster JSON file");
  cmd->add_flag("--feasible", o->feasible_only, "Only Cells that fit in memory");
  // No --threads or --seed: the Cells are enumerated in one pass without randomness.
  add_json_flag(*cmd, o->common);
  cmd->callback([o] { run_cells(*o); });
}

}  // namespace gearbox::apps::sched_cli
