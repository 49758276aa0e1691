// The report of `gearbox gnn plan` (CPU): one JSON document (what --json prints) and its text
// rendering, shared by the CLI and the Python package (gearbox_gnn's Plan.explain()), so
// both explain a plan in the same words.
#pragma once

#include <iosfwd>
#include <string>

#include <nlohmann/json.hpp>

#include "gearbox/gnn/plan.hpp"
#include "gearbox/gnn/reorder.hpp"

namespace gearbox::gnn {

// The plan document for width `dim` of `agg` (selecting that width now if it has not been):
// graph name, size, reordering (`reorder` as the user spelt it, timing and communities from
// `order`), the density decomposition under the chosen thresholds, the candidates with
// predicted and measured times, the choice and the reason, and the selection time.
nlohmann::json plan_document(const std::string& graph, const std::string& reorder,
                             const Ordering& order, AdaptiveAggregator& agg, int dim, int threads);

// Writes `doc` (from plan_document) as the text `gearbox gnn plan` prints.
void write_plan_text(std::ostream& out, const nlohmann::json& doc);

}  // namespace gearbox::gnn
