#include "gearbox/gnn/plan_report.hpp"

#include <ostream>

#include "gearbox/core/output.hpp"

namespace gearbox::gnn {

using Json = nlohmann::json;

Json plan_document(const std::string& graph, const std::string& reorder, const Ordering& order,
                   AdaptiveAggregator& agg, int dim, int threads) {
  const Candidate& choice = agg.plan_for(dim).candidate();
  const Json ex = agg.explain()[std::to_string(dim)];
  const Csr& a = agg.matrix();
  Json doc = {
      {"graph", graph},
      {"nodes", a.rows},
      {"nnz", a.nnz()},
      {"dim", dim},
      {"threads", threads},
      {"reorder",
       {{"method", reorder}, {"seconds", order.seconds}, {"communities", order.communities}}},
      {"decomposition", density_report(a, agg.blocks(), choice.thresholds)},
      {"candidates", ex.value("candidates", Json::array())},
      {"choice", ex["choice"]},
      {"reason", ex["reason"]},
      {"selection_seconds", agg.selection_seconds()}};
  // X and Y in the caller's node order (MatrixPlan): "fused" into the kernels or "copied"
  // (MatrixPlan::document may say "given" instead).
  if (ex.contains("caller_order")) doc["caller_order"] = ex["caller_order"];
  return doc;
}

void write_plan_text(std::ostream& out, const Json& doc) {
  const Json& d = doc["decomposition"];
  out << "graph " << doc["graph"].get<std::string>() << ": " << doc["nodes"] << " nodes, "
      << doc["nnz"] << " nnz in A_hat; reorder " << doc["reorder"]["method"].get<std::string>()
      << " in " << fmt_num(doc["reorder"]["seconds"].get<double>() * 1e3) << " ms ("
      << doc["reorder"]["communities"] << " communities)\n";
  out << "decomposition: " << d["blocks"] << " diagonal blocks (median size "
      << d["block_size_median"] << ", max " << d["block_size_max"] << "), "
      << fmt_num(100 * d["nnz_in_diagonal_blocks_share"].get<double>(), 1)
      << "% of nnz inside them\n";
  // Only the density buckets that hold blocks; without blocks, one line saying so.
  TextTable hist({"block density", "blocks", "nnz"});
  long listed = 0;
  for (const auto& h : d["density_histogram"]) {
    const long blocks = h["blocks"].get<long>();
    if (blocks == 0) continue;
    hist.add_row({h["density"], std::to_string(blocks), std::to_string(h["nnz"].get<long>())});
    listed += blocks;
  }
  if (listed > 0)
    hist.print(out);
  else
    out << "block density: no diagonal blocks (the ordering made none), all nnz sparse\n";
  out << "\ncandidates at width " << doc["dim"] << " (" << doc["threads"] << " threads):\n";
  TextTable t({"candidate", "dense", "medium", "sparse", "predicted ms", "measured ms"});
  for (const auto& c : doc["candidates"]) {
    const Json& k = c["kernels"];
    t.add_row({c["label"], k.value("dense", "-"), k.value("medium", "-"), k.value("sparse", "-"),
               fmt_num(c["predicted_ms"].get<double>(), 3),
               c["measured_ms"].is_number() ? fmt_num(c["measured_ms"].get<double>(), 3) : "-"});
  }
  t.print(out);
  out << "\nchoice: " << doc["choice"]["label"].get<std::string>() << " -- "
      << doc["reason"].get<std::string>() << "\n";
  // A plan over the caller's node order (MatrixPlan): the reordered plan against plain CSR on
  // the matrix as given.
  if (doc.contains("caller_order_measured")) {
    const Json& m = doc["caller_order_measured"];
    out << "caller's order: "
        << (m["choice"] != "given" ? "the reordered plan, X and Y through the permutation"
            : m.value("given_kernel", "csr") == "csr-nopf"
                ? "plain CSR on the matrix as given, without software prefetch"
                : "plain CSR on the matrix as given")
        << " (reordered " << fmt_num(m["reordered_ms"].get<double>(), 3) << " ms, as given "
        << fmt_num(m["given_csr_ms"].get<double>(), 3) << " ms, paired ratio "
        << fmt_num(m["paired_ratio"].get<double>(), 3) << " over " << m["rounds"] << " rounds"
        << (m.contains("after_calls")
                ? ", re-checked after " + m["after_calls"].dump() +
                      " calls; first: " + m["first"]["choice"].get<std::string>()
                : std::string())
        << ")\n";
  }
}

}  // namespace gearbox::gnn
