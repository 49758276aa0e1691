// The device aggregation benchmark (see device_bench.hpp): our CUDA kernels and the adaptive
// plan beside our own call of cusparseSpMM, per graph and width, and a GCN train step.
#include "gearbox/gnn/cuda/device_bench.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>

#include "gearbox/core/cuda.hpp"
#include "gearbox/core/error.hpp"
#include "gearbox/core/paths.hpp"
#include "gearbox/core/stats.hpp"
#include "gearbox/gnn/cuda/device_plan.hpp"
#include "gearbox/gnn/cuda/gcn_cuda.hpp"
#include "gearbox/gnn/device_registry.hpp"
#include "gearbox/gnn/plan.hpp"
#include "gearbox/gnn/prepare.hpp"

namespace gearbox::gnn::cuda {

namespace {

// Every shared graph with an adjacency file, by name.
std::vector<std::string> shared_graphs() {
  std::vector<std::string> names;
  const auto dir = data_dir();
  if (!dir) return names;
  for (const auto& e : std::filesystem::directory_iterator(*dir / "graphs")) {
    const std::string f = e.path().filename().string();
    for (const char* suffix : {".adj.mtx", ".adj.mtx.gz"}) {
      const std::string sfx = suffix;
      if (f.size() > sfx.size() && f.compare(f.size() - sfx.size(), sfx.size(), sfx) == 0)
        names.push_back(f.substr(0, f.size() - sfx.size()));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string safe_name(const std::string& g) {
  std::string s = g;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

void dump_edges(const Csr& adj, const std::string& graph, const std::filesystem::path& dir,
                nlohmann::json& index) {
  std::filesystem::create_directories(dir);
  const std::string file = safe_name(graph) + ".edges.i32";
  std::ofstream out(dir / file, std::ios::binary);
  for (index_t r = 0; r < adj.rows; ++r)
    for (offset_t k = adj.rowptr[r]; k < adj.rowptr[r + 1]; ++k) {
      const std::int32_t pair[2] = {r, adj.col[k]};
      out.write(reinterpret_cast<const char*>(pair), sizeof(pair));
    }
  if (!out) throw Error::runtime("cannot write edge dump").at((dir / file).string());
  index.push_back({{"graph", graph}, {"file", file}, {"nodes", adj.rows}, {"edges", adj.nnz()}});
}

// Bytes of the one-pass floor: CSR (int64 offsets, int32 columns, fp32 values) + X + Y.
double floor_bytes(const Csr& a, int f) {
  return static_cast<double>(a.nnz()) * 8 + (a.rows + 1) * 8.0 + 2.0 * a.rows * f * 4.0;
}

double rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(b[i]) * b[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// Runs fn into a fresh buffer (poisoned with NaN, or zeroed for the anchor) and downloads it.
std::vector<float> run_and_fetch(const std::function<void(float*)>& fn, std::size_t n,
                                 bool poison = true) {
  DeviceBuffer y(n * sizeof(float));
  y.fill_bytes(poison ? 0xff : 0);
  fn(y.as<float>());
  synchronize();
  std::vector<float> h(n);
  y.download(h.data(), n * sizeof(float));
  return h;
}

}  // namespace

std::vector<std::string> default_device_bench_graphs() {
  std::vector<std::string> graphs = shared_graphs();
  graphs.push_back("sbm:n=1000000,block=512,din=25,dout=6,seed=0");
  graphs.push_back("rmat:scale=20,ef=16,seed=0");
  return graphs;
}

nlohmann::json run_device_bench(const DeviceBenchOptions& o, std::FILE* table,
                                std::FILE* progress) {
  if (cuda_devices().empty()) throw Error::runtime("no CUDA device: nothing to benchmark");
  register_cuda();
  const auto median_ms = [](const std::function<void()>& fn, int reps) {
    const double ms = gnn::median_ms(Device::kCuda, fn, reps);
    synchronize();
    return ms;
  };
  const auto dev = cuda_devices().front();
  const MachineProfile gpu = gpu_machine_profile();
  std::fprintf(progress, "device: %s (sm_%d%d, %d SMs); copy %.0f GB/s, FP32 SGEMM %.1f TFLOP/s\n",
               dev.name.c_str(), dev.sm_major, dev.sm_minor, dev.multiprocessors, gpu.mem_bw_gbs,
               gpu.fp32_gflops / 1e3);
  nlohmann::json report = {{"device", dev.name},
                           {"copy_gbs", gpu.mem_bw_gbs},
                           {"fp32_gflops", gpu.fp32_gflops},
                           {"reps", o.reps},
                           {"reorder", reorder_name(o.reorder)},
                           {"max_block", o.max_block},
                           {"rows", nlohmann::json::array()}};
  nlohmann::json edge_index = nlohmann::json::array();

  std::fprintf(table, "%-28s %9s %10s %4s | %9s %9s | %9s %9s | %9s %-26s | %6s %6s | %7s %5s\n",
               "graph", "nodes", "nnz", "F", "cuSP ms", "csr ms", "cuSP(ro)", "csr(ro)", "adapt ms",
               "chosen", "x cuSP", "x(ro)", "GB/s", "%copy");
  for (const std::string& g : o.graphs) {
    Stopwatch load;
    PreparedGraph given = prepare_graph(g, ReorderMethod::kNone, o.max_block, o.seed, false);
    const double load_s = load.seconds();
    // The reordered adjacency: P Ahat P^T is the normalisation of the permuted graph.
    const Ordering order = compute_ordering(given.data.adj, o.reorder, o.max_block, o.seed);
    const auto planned = std::make_shared<const Csr>(
        o.reorder == ReorderMethod::kNone ? given.ahat
                                          : permute_symmetric(given.ahat, order.new_of_old));
    const Csr& b = *planned;
    if (!o.dump_edges.empty()) {  // the index is rewritten after each graph: a cut run keeps it
      dump_edges(given.data.adj, g, o.dump_edges, edge_index);
      std::ofstream idx(std::filesystem::path(o.dump_edges) / "graphs.json");
      idx << edge_index.dump(1) << "\n";
    }
    const Csr& a = given.ahat;
    std::fprintf(progress, "%s: %d nodes, %lld nnz; loaded in %.1f s, reordered in %.1f s\n",
                 g.c_str(), a.rows, static_cast<long long>(a.nnz()), load_s, order.seconds);
    auto csr_given = find_kernel("csr", Device::kCuda).make(Subgraph{&a, {}});
    auto cusp_given = find_kernel("cusparse", Device::kCuda).make(Subgraph{&a, {}});
    auto csr_ro = find_kernel("csr", Device::kCuda).make(Subgraph{&b, {}});
    auto cusp_ro = find_kernel("cusparse", Device::kCuda).make(Subgraph{&b, {}});
    // The plan on the GPU, selected for every width at once (each kernel prepared once).
    SelectorOptions so;
    so.device = Device::kCuda;
    so.reps = o.reps;
    AdaptiveAggregator adaptive(planned, order.block_starts, so, 1);
    Stopwatch sel_sw;
    adaptive.prepare(o.dims);
    const double sel_s = sel_sw.seconds();
    const nlohmann::json explained = adaptive.explain();
    for (std::size_t di = 0; di < o.dims.size(); ++di) {
      const int f = o.dims[di];
      const nlohmann::json& sel = explained[std::to_string(f)];
      std::mt19937 rng(static_cast<unsigned>(f));
      std::uniform_real_distribution<float> d(-1.f, 1.f);
      std::vector<float> xh(static_cast<std::size_t>(a.rows) * f);
      for (auto& v : xh) v = d(rng);
      DeviceBuffer x = to_device(xh);
      DeviceBuffer y(sizeof(float) * static_cast<std::size_t>(a.rows) * f);
      const float* xp = x.as<float>();
      float* yp = y.as<float>();
      const double t_cusp = median_ms([&] { cusp_given->run(xp, f, yp, false); }, o.reps);
      const double t_csr = median_ms([&] { csr_given->run(xp, f, yp, false); }, o.reps);
      const double t_cusp_ro = median_ms([&] { cusp_ro->run(xp, f, yp, false); }, o.reps);
      const double t_csr_ro = median_ms([&] { csr_ro->run(xp, f, yp, false); }, o.reps);
      const ExecPlan& plan = adaptive.plan_for(f);
      const Candidate& chosen = plan.candidate();
      const double t_ad = median_ms([&] { plan.run(xp, f, yp); }, o.reps);
      // Correctness in the benchmark itself: ours vs cuSPARSE on the same inputs.
      const std::size_t n = static_cast<std::size_t>(a.rows) * f;
      const auto ref = run_and_fetch([&](float* o) { cusp_ro->run(xp, f, o, false); }, n, false);
      const double err_ad = rel_diff(run_and_fetch([&](float* o) { plan.run(xp, f, o); }, n), ref);
      const auto ref_g =
          run_and_fetch([&](float* o) { cusp_given->run(xp, f, o, false); }, n, false);
      const double err_csr =
          rel_diff(run_and_fetch([&](float* o) { csr_given->run(xp, f, o, false); }, n), ref_g);
      const double best = std::min(t_ad, t_csr);  // what gearbox runs: the plan or plain CSR
      const double gbs = floor_bytes(b, f) / (best * 1e-3) / 1e9;
      std::string label = chosen.label;
      if (chosen.whole.empty())
        label += " " + chosen.kernel[0] + "+" + chosen.kernel[1] + "+" + chosen.kernel[2];
      std::fprintf(
          table,
          "%-28s %9d %10lld %4d | %9.3f %9.3f | %9.3f %9.3f | %9.3f %-26s | %6.2f %6.2f | %7.0f "
          "%5.1f\n",
          g.substr(0, 28).c_str(), a.rows, static_cast<long long>(a.nnz()), f, t_cusp, t_csr,
          t_cusp_ro, t_csr_ro, t_ad, label.substr(0, 26).c_str(), t_cusp / best, t_cusp_ro / best,
          gbs, 100 * gbs / gpu.mem_bw_gbs);
      std::fflush(table);
      report["rows"].push_back({{"graph", g},
                                {"nodes", a.rows},
                                {"nnz", a.nnz()},
                                {"dim", f},
                                {"cusparse_ms", t_cusp},
                                {"csr_ms", t_csr},
                                {"cusparse_reordered_ms", t_cusp_ro},
                                {"csr_reordered_ms", t_csr_ro},
                                {"adaptive_ms", t_ad},
                                {"best_ms", best},
                                {"speedup_vs_cusparse", t_cusp / best},
                                {"speedup_vs_cusparse_reordered", t_cusp_ro / best},
                                {"floor_gbs", gbs},
                                {"copy_fraction", gbs / gpu.mem_bw_gbs},
                                {"rel_err_adaptive_vs_cusparse", err_ad},
                                {"rel_err_csr_vs_cusparse", err_csr},
                                {"load_s", load_s},
                                {"reorder_s", order.seconds},
                                {"selection_s_all_widths", sel_s},
                                {"selection", sel}});
      if (!(err_ad <= 1e-2) || !(err_csr <= 1e-4))
        std::fprintf(progress, "CHECK FAILED: %s F=%d adaptive err %.3g, csr err %.3g\n", g.c_str(),
                     f, err_ad, err_csr);
    }
    if (o.train) {  // a 2-layer GCN train step on the device, as PyG's (cuda_pyg.py)
      const int f = o.dims.back();
      const ExecPlan& plan = adaptive.plan_for(f);
      std::mt19937 rng(7);
      std::uniform_real_distribution<float> d(-1.f, 1.f);
      std::vector<float> feat(static_cast<std::size_t>(b.rows) * f);
      for (auto& v : feat) v = d(rng);
      std::vector<std::int32_t> labels(static_cast<std::size_t>(b.rows));
      for (auto& l : labels) l = static_cast<std::int32_t>(rng() % o.classes);
      std::vector<index_t> all(static_cast<std::size_t>(b.rows));
      for (index_t i = 0; i < b.rows; ++i) all[i] = i;
      for (const bool tf32 : {false, true}) {
        TrainConfig cfg;
        cfg.epochs = 3 + o.reps / 3;
        cfg.hidden = o.hidden;
        cfg.evaluate_each_epoch = false;
        cfg.tf32 = tf32;
        const TrainResult tr = train_gcn_device(
            b.rows, Features{nullptr, feat.data(), f}, labels, o.classes, all, {}, {},
            [&](const float* x, int w, float* y) { plan.run(x, w, y); }, cfg, nullptr);
        std::vector<double> ms;
        for (std::size_t e = 3; e < tr.epochs.size(); ++e) ms.push_back(tr.epochs[e].ms);
        const double step = summarize(ms).median;
        std::fprintf(table, "%-28s train step (GCN %d-%d-%d, all nodes, %zu epochs, %s): %.3f ms\n",
                     g.substr(0, 28).c_str(), f, o.hidden, o.classes, ms.size(),
                     tf32 ? "TF32 products" : "FP32", step);
        std::fflush(table);
        report["train"].push_back({{"graph", g},
                                   {"dim", f},
                                   {"hidden", o.hidden},
                                   {"classes", o.classes},
                                   {"products", tf32 ? "tf32" : "fp32"},
                                   {"train_step_ms", step},
                                   {"aggregate_ms_total", tr.aggregate_ms_total},
                                   {"plan", plan.candidate().to_json()}});
      }
    }
    if (!o.json_out.empty()) {  // rewritten after each graph: a run cut short keeps its rows
      std::ofstream out(o.json_out);
      out << report.dump(1) << "\n";
      if (!out) throw Error::runtime("cannot write JSON").at(o.json_out);
    }
  }
  return report;
}

}  // namespace gearbox::gnn::cuda
