// `gearbox gnn bench --graph G --dim F [--json]`: aggregation (one A_hat X) and one GCN
// training epoch, side by side in one run: our CSR in the given order, the same CSR on the
// reordered graph, Eigen's sparse x dense, the adaptive plan, and PyG GCNConv on torch CPU.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>

#include "cuda_device.hpp"
#include "gearbox/core/cli.hpp"
#include "gearbox/core/error.hpp"
#include "gearbox/core/huge_pages.hpp"
#include "gearbox/core/machine.hpp"
#include "gearbox/core/output.hpp"
#include "gearbox/core/paths.hpp"
#include "gearbox/core/process.hpp"
#include "gearbox/core/stats.hpp"
#include "gearbox/core/threads.hpp"
#include "gearbox/gnn/device_registry.hpp"
#include "gearbox/gnn/eigen_baseline.hpp"
#include "gearbox/gnn/gcn.hpp"
#include "gearbox/gnn/kernels.hpp"
#include "gearbox/gnn/plan.hpp"
#include "gearbox/gnn/prepare.hpp"
#include "gnn_commands.hpp"

namespace gearbox::apps {

namespace fs = std::filesystem;

namespace {
struct BenchArgs {
  CommonOptions common;
  std::string graph, reorder = "lp";
  int dim = 64, block = 1024, epochs = 3;
  double min_seconds = 0.3;
  bool no_pyg = false, no_epoch = false;
  bool huge_pages = false;  // X and Y on transparent huge pages instead of std::vector
  std::string device = "cpu";
  bool block_given = false;
  int reps = 30;
};

// `--device cuda`: our CUDA kernels and adaptive plan beside our call of cusparseSpMM
// (run_device_bench); PyG on the GPU runs from bench/gnn/cuda_pyg.py (see docs/gnn-cuda.md).
void run_bench_cuda(const BenchArgs& a) {
  const Json report =
      bench_on_cuda(a.graph, a.dim, a.reps, a.reorder, a.block_given ? a.block : 512, a.common.seed,
                    !a.no_epoch, a.common.json ? stderr : stdout);
  if (a.common.json) write_json(std::cout, report);
}

// One warm-up, then 3 to 200 runs and at least min_seconds of them.
MeasureOptions timed_for(double min_seconds) {
  MeasureOptions mo;
  mo.warmup = 1;
  mo.min_reps = 3;
  mo.max_reps = 200;
  mo.min_seconds = min_seconds;
  return mo;
}

// Runs every function once per round, round after round, for at least min_seconds of timed
// runs per function and 5 rounds (at most 400): interference hits all alike. Each round takes
// the functions in a new order, and each timed run follows an untimed run of the same
// function (as the selector measures: AdaptiveAggregator::measure_interleaved), so that no
// function always pays for the cache state the same other one leaves. Returns each
// function's times in ms, round i of every vector measured in the same round.
std::vector<std::vector<double>> interleaved_ms(const std::vector<std::function<void()>>& fns,
                                                double min_seconds) {
  std::vector<std::vector<double>> ms(fns.size());
  std::vector<std::size_t> order(fns.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937 shuffle_rng(1);
  double timed_s = 0;
  for (int round = 0; round < 400; ++round) {
    if (round >= 5 && timed_s >= min_seconds * static_cast<double>(fns.size())) break;
    std::shuffle(order.begin(), order.end(), shuffle_rng);
    for (const std::size_t i : order) {
      fns[i]();
      Stopwatch w;
      fns[i]();
      ms[i].push_back(w.ms());
      timed_s += ms[i].back() * 1e-3;
    }
  }
  return ms;
}

// The median over rounds of num[i] / den[i] (a same-run ratio).
double paired_ratio(const std::vector<double>& num, const std::vector<double>& den) {
  std::vector<double> r;
  for (std::size_t i = 0; i < std::min(num.size(), den.size()); ++i) r.push_back(num[i] / den[i]);
  return r.empty() ? 0.0 : summarize(r).median;
}

std::string pyg_python() {
  if (const char* p = std::getenv("GEARBOX_PYG_PYTHON"); p && *p) return p;
  const fs::path v = cache_dir() / "venv-pyg" / "bin" / "python";
  std::error_code ec;
  return fs::exists(v, ec) ? v.string() : "";
}

fs::path find_pyg_script() {
  for (const auto& root : search_roots())
    for (fs::path p = root; !p.empty(); p = p.parent_path()) {
      const fs::path s = p / "bench" / "gnn" / "pyg_gcn.py";
      std::error_code ec;
      if (fs::exists(s, ec)) return s;
      if (p == p.parent_path()) break;
    }
  return {};
}

// Runs the PyG script on the given-order graph; fills pyg json or a reason.
Json run_pyg(const gnn::Csr& adj, int dim, int threads, bool want) {
  if (!want) return {{"reason", "skipped (--no-pyg)"}};
  const std::string py = pyg_python();
  if (py.empty())
    return {{"reason", "no PyG venv: run bench/gnn/setup-pyg.sh (or set GEARBOX_PYG_PYTHON)"}};
  const fs::path script = find_pyg_script();
  if (script.empty()) return {{"reason", "bench/gnn/pyg_gcn.py not found"}};
  // The edge file goes into a private mkdtemp directory (removed on return); the script starts
  // from an argument vector, never a shell command line, whatever TMPDIR or the paths hold.
  const PrivateTempDir tmp("gearbox-pyg-");
  const fs::path edges = tmp.path() / "edges.bin";
  {
    std::ofstream out(edges, std::ios::binary);
    for (gnn::index_t r = 0; r < adj.rows; ++r)
      for (gnn::offset_t k = adj.rowptr[r]; k < adj.rowptr[r + 1]; ++k) {
        const std::int32_t pair[2] = {r, adj.col[k]};
        out.write(reinterpret_cast<const char*>(pair), sizeof pair);
      }
    if (!out) return {{"reason", "cannot write the edge file for PyG in " + tmp.path().string()}};
  }
  ProcessOutput r;
  try {
    r = run_process({py, script.string(), "--edges", edges.string(), "--nodes",
                     std::to_string(adj.rows), "--dim", std::to_string(dim), "--threads",
                     std::to_string(threads)});
  } catch (const Error& e) {
    return {{"reason", std::string("PyG script did not start: ") + e.what()}};
  }
  if (r.exit_code != 0)
    return {{"reason", "PyG script failed (exit " + std::to_string(r.exit_code) + ")"}};
  try {
    return Json::parse(r.out);
  } catch (const std::exception&) {
    return {{"reason", "PyG script printed no JSON"}};
  }
}

// The share of intra-community nonzeros inside diagonal blocks when the graph's labels are its
// planted communities (sbm:); null otherwise.
Json community_share(const gnn::PreparedGraph& p, const std::vector<gnn::BlockInfo>& blocks) {
  if (p.data.name.rfind("sbm:", 0) != 0) return nullptr;
  const double s = gnn::intra_community_share(p.ahat, blocks, p.data.labels);
  return s < 0 ? Json(nullptr) : Json(s);
}

Json ms_or_null(const Json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key] : Json(nullptr);
}

void run_bench(const BenchArgs& a) {
  ThreadScope threads(a.common.threads);
  const int t = threads.threads(), f = a.dim;
  const MachineProfile machine = machine_profile(t);
  std::cerr << "gnn bench: loading " << a.graph << "\n";
  // Given order (what PyG and cuSPARSE users run), then the reordered copy.
  // Per node: the reordered second copy of the graph, X and Y, and the training epochs'
  // activations and gradients (about sixteen dim-wide buffers in all).
  const std::uint64_t bytes_per_node = gnn::kGraphBytesPerNode + 64 * static_cast<std::uint64_t>(f);
  gnn::PreparedGraph given = gnn::prepare_graph(a.graph, gnn::ReorderMethod::kNone, a.block,
                                                a.common.seed, false, bytes_per_node);
  const gnn::index_t n = given.ahat.rows;
  // X and Y: std::vector (16-byte aligned, 4 KiB pages), or with --huge-pages 2 MiB-aligned
  // buffers on transparent huge pages (what a caller that asks for them passes).
  const std::size_t xy_size = static_cast<std::size_t>(n) * f;
  std::vector<float> xv, yv;
  HugePageFloats xh(a.huge_pages ? xy_size : 0), yh(a.huge_pages ? xy_size : 0);
  if (!a.huge_pages) {
    xv.resize(xy_size);
    yv.resize(xy_size);
  }
  float* const x = a.huge_pages ? xh.data() : xv.data();
  float* const y = a.huge_pages ? yh.data() : yv.data();
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> ud(-1, 1);
  for (std::size_t i = 0; i < xy_size; ++i) x[i] = ud(rng);
  std::cerr << "gnn bench: aggregation, Eigen\n";
  double eigen_ms;
  {
    const gnn::EigenSpmm eig(given.ahat);
    eigen_ms = gnn::median_ms(
        gnn::Device::kCpu, [&] { eig.run(x, f, y, t); }, timed_for(a.min_seconds));
  }
  std::cerr << "gnn bench: PyG\n";
  const Json pyg = run_pyg(given.data.adj, f, t, !a.no_pyg);
  std::cerr << "gnn bench: reordering (" << a.reorder << ")\n";
  gnn::PreparedGraph re =
      gnn::prepare_graph(a.graph, gnn::parse_reorder(a.reorder), a.block, a.common.seed, false);
  std::cerr << "gnn bench: adaptive selection\n";
  gnn::AdaptiveAggregator agg(re.ahat, re.order.block_starts, {}, t);
  agg.plan_for(f);  // selection first (one-off); the timed calls go through the aggregator so
                    // that its re-check against CSR after warm-up applies here as in training
  // Warm-up calls, enough for the re-check to run (when a split was chosen) before the timed
  // rounds: the decision timed below is the one training keeps.
  for (int i = 0; i <= gnn::SelectorOptions{}.recheck_after; ++i) agg.run(x, f, y);
  // CSR in the given order, CSR on the reordered graph and the adaptive plan, interleaved in the
  // same rounds: their ratios are same-run ratios even on a busy machine.
  std::cerr << "gnn bench: aggregation, CSR given / CSR reordered / adaptive (interleaved)\n";
  const auto rounds =
      interleaved_ms({[&] { gnn::spmm_csr(given.ahat, x, f, y, false); },
                      [&] { gnn::spmm_csr(re.ahat, x, f, y, false); }, [&] { agg.run(x, f, y); }},
                     a.min_seconds);
  const double csr_ms = summarize(rounds[0]).median, csr_re_ms = summarize(rounds[1]).median,
               adaptive_ms = summarize(rounds[2]).median;

  // One training epoch: GCN F -> F -> 16 on random features and labels, all nodes in training.
  Json epoch = {
      {"csr_ms", nullptr}, {"adaptive_ms", nullptr}, {"pyg_ms", ms_or_null(pyg, "epoch_ms")}};
  if (!a.no_epoch) {
    std::cerr << "gnn bench: training epochs\n";
    const int classes = 16;
    std::vector<std::int32_t> labels(static_cast<std::size_t>(n));
    for (auto& l : labels) l = static_cast<std::int32_t>(rng() % classes);
    std::vector<gnn::index_t> all(static_cast<std::size_t>(n));
    for (gnn::index_t i = 0; i < n; ++i) all[i] = i;
    gnn::TrainConfig cfg;
    cfg.epochs = a.epochs;
    cfg.hidden = f;
    cfg.evaluate_each_epoch = false;
    const gnn::Features feats{nullptr, x, f};
    auto csr_fn = [&](const float* in, int w, float* out) {
      gnn::spmm_csr(given.ahat, in, w, out, false);
    };
    epoch["csr_ms"] = gnn::train_gcn(n, feats, labels, classes, all, {}, {}, csr_fn, cfg, nullptr)
                          .epoch_ms_median;
    agg.plan_for(classes);  // select for both widths before timing (selection is one-off)
    auto ad_fn = [&](const float* in, int w, float* out) { agg.run(in, w, out); };
    epoch["adaptive_ms"] =
        gnn::train_gcn(n, feats, labels, classes, all, {}, {}, ad_fn, cfg, nullptr).epoch_ms_median;
  }
  // Compulsory traffic of one aggregation: the matrix once, X once, Y once; its floor at the
  // measured triad bandwidth, and the FMAs' floor at the measured SGEMM rate.
  const double bytes = static_cast<double>(given.ahat.nnz()) * 8 + (n + 1) * 8.0 + 2.0 * n * f * 4;
  const double flops = 2.0 * static_cast<double>(given.ahat.nnz()) * f;
  const double bytes_floor_ms = bytes / (machine.mem_bw_gbs * 1e9) * 1e3;
  const double flops_floor_ms = flops / (machine.fp32_gflops * 1e9) * 1e3;
  auto gbs = [&](double ms) { return bytes / (ms * 1e-3) / 1e9; };
  Json aggj = {{"csr_ms", csr_ms},
               {"csr_reordered_ms", csr_re_ms},
               {"eigen_ms", eigen_ms},
               {"adaptive_ms", adaptive_ms},
               {"pyg_ms", ms_or_null(pyg, "aggregation_ms")}};
  if (!pyg.contains("aggregation_ms")) aggj["pyg_reason"] = pyg.value("reason", "unknown");
  if (!pyg.contains("epoch_ms")) epoch["pyg_reason"] = pyg.value("reason", "unknown");
  if (a.no_epoch) epoch["reason"] = "skipped (--no-epoch)";
  aggj["rounds"] = rounds[0].size();
  Json ratios = {
      {"aggregation_csr_over_adaptive", csr_ms / adaptive_ms},
      {"aggregation_csr_reordered_over_adaptive", csr_re_ms / adaptive_ms},
      {"aggregation_csr_over_adaptive_paired", paired_ratio(rounds[0], rounds[2])},
      {"aggregation_csr_reordered_over_adaptive_paired", paired_ratio(rounds[1], rounds[2])},
      {"aggregation_eigen_over_adaptive", eigen_ms / adaptive_ms}};
  if (aggj["pyg_ms"].is_number())
    ratios["aggregation_pyg_over_adaptive"] = aggj["pyg_ms"].get<double>() / adaptive_ms;
  if (epoch["adaptive_ms"].is_number()) {
    ratios["epoch_csr_over_adaptive"] =
        epoch["csr_ms"].get<double>() / epoch["adaptive_ms"].get<double>();
    if (epoch["pyg_ms"].is_number())
      ratios["epoch_pyg_over_adaptive"] =
          epoch["pyg_ms"].get<double>() / epoch["adaptive_ms"].get<double>();
  }
  Json ex = agg.explain()[std::to_string(f)];
  // The selector's final decision against this run's timing: a split kept after the re-check
  // should be faster than CSR on the reordered graph in these rounds (paired ratio > 1);
  // plain CSR is the same kernel, so it agrees by construction.
  const gnn::Candidate& kept = agg.plan_for(f).candidate();
  const bool split = !kept.whole_csr();  // a split, or CSR without prefetch ("csr-nopf")
  const double final_ratio = paired_ratio(rounds[1], rounds[2]);
  Json decision = {{"kept", kept.whole.empty() ? std::string("split") : kept.whole},
                   {"recheck", ex.value("recheck", Json(nullptr))},
                   {"csr_reordered_over_adaptive_paired", final_ratio},
                   {"agrees_with_timing", !split || final_ratio > 1.0}};
  Json doc = {{"graph", a.graph},
              {"dim", f},
              {"aggregation", aggj},
              {"epoch", epoch},
              {"plan",
               {{"choice", ex["choice"]},
                {"reason", ex["reason"]},
                {"kernels", agg.kernels()},
                {"selection_seconds", agg.selection_seconds()},
                {"decision", decision},
                {"decomposition", gnn::density_report(re.ahat, agg.blocks(),
                                                      agg.plan_for(f).candidate().thresholds)}}},
              {"ratios", ratios},
              {"achieved_gbs",
               {{"csr", gbs(csr_ms)},
                {"csr_reordered", gbs(csr_re_ms)},
                {"eigen", gbs(eigen_ms)},
                {"adaptive", gbs(adaptive_ms)},
                {"machine_bandwidth", machine.mem_bw_gbs},
                {"adaptive_share_of_triad", gbs(adaptive_ms) / machine.mem_bw_gbs}}},
              {"floors",
               {{"compulsory_bytes", bytes},
                {"bytes_floor_ms", bytes_floor_ms},
                {"flops", flops},
                {"flops_floor_ms", flops_floor_ms},
                {"machine_sgemm_gflops", machine.fp32_gflops},
                {"adaptive_over_floor", adaptive_ms / std::max(bytes_floor_ms, flops_floor_ms)}}},
              {"reorder",
               {{"method", a.reorder},
                {"communities", re.order.communities},
                {"intra_community_nnz_in_diagonal_blocks", community_share(re, agg.blocks())},
                {"seconds", re.order.seconds},
                {"permute_seconds", re.permute_seconds}}},
              {"nodes", n},
              {"nnz", given.ahat.nnz()},
              {"threads", t},
              {"buffers",
               {{"kind", a.huge_pages ? "huge_pages" : "vector"},
                {"huge_pages_advised", a.huge_pages && xh.huge_pages() && yh.huge_pages()}}},
              {"pyg", pyg}};
  if (a.common.json) {
    write_json(std::cout, doc);
    return;
  }
  std::cout << "graph " << a.graph << ": " << n << " nodes, " << given.ahat.nnz()
            << " nnz (A_hat), dim " << f << ", " << t << " threads; machine bandwidth "
            << fmt_num(machine.mem_bw_gbs, 1) << " GB/s (triad), SGEMM "
            << fmt_num(machine.fp32_gflops, 1) << " GFLOP/s\nfloors: compulsory bytes "
            << fmt_num(bytes_floor_ms, 3) << " ms, FMAs " << fmt_num(flops_floor_ms, 3)
            << " ms; adaptive at " << fmt_num(100 * gbs(adaptive_ms) / machine.mem_bw_gbs, 1)
            << "% of triad\n";
  TextTable tt({"aggregation", "ms", "adaptive speedup", "GB/s (compulsory)"});
  auto row = [&](const char* name, const Json& ms) {
    if (!ms.is_number()) {
      tt.add_row({name, "null", "-", "-"});
      return;
    }
    const double v = ms.get<double>();
    tt.add_row({name, fmt_num(v, 3), fmt_num(v / adaptive_ms, 2) + "x", fmt_num(gbs(v), 1)});
  };
  row("csr (given order)", aggj["csr_ms"]);
  row("csr (reordered)", aggj["csr_reordered_ms"]);
  row("eigen", aggj["eigen_ms"]);
  row("pyg GCNConv", aggj["pyg_ms"]);
  row("adaptive", aggj["adaptive_ms"]);
  tt.print(std::cout);
  TextTable te({"epoch", "ms", "adaptive speedup"});
  for (const char* k : {"csr_ms", "pyg_ms", "adaptive_ms"}) {
    const Json& v = epoch[k];
    te.add_row({k, v.is_number() ? fmt_num(v.get<double>(), 2) : "null",
                v.is_number() && epoch["adaptive_ms"].is_number()
                    ? fmt_num(v.get<double>() / epoch["adaptive_ms"].get<double>(), 2) + "x"
                    : "-"});
  }
  te.print(std::cout);
  std::cout << "plan: " << agg.kernels().dump() << " -- " << ex["reason"].get<std::string>()
            << "\nreorder (" << a.reorder << ", one-off): " << fmt_num(re.order.seconds * 1e3, 1)
            << " ms; selection (one-off): " << fmt_num(agg.selection_seconds() * 1e3, 1) << " ms\n";
  if (!aggj["pyg_ms"].is_number())
    std::cout << "pyg: " << aggj["pyg_reason"].get<std::string>() << "\n";
}
}  // namespace

void register_gnn_bench(CLI::App& gnn) {
  auto args = std::make_shared<BenchArgs>();
  auto* cmd = gnn.add_subcommand(
      "bench", "Aggregation and epoch times: CSR, reordered CSR, Eigen, adaptive, PyG");
  cmd->add_option("--graph", args->graph, "name (cora), path, or sbm:/rmat: spec")->required();
  cmd->add_option("--dim", args->dim, "feature width")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_option("--reorder", args->reorder, "metis|lp|degree|none")->capture_default_str();
  cmd->add_option("--block", args->block,
                  "largest diagonal block; blocks follow the communities (512 with cuda)")
      ->check(CLI::Range(8, 4096))
      ->capture_default_str()
      ->each([args](const std::string&) { args->block_given = true; });
  cmd->add_option("--epochs", args->epochs, "epochs timed per trainer")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--min-seconds", args->min_seconds, "measuring time per aggregation variant")
      ->check(finite_range(0.0, 60.0))
      ->capture_default_str();
  cmd->add_flag("--no-pyg", args->no_pyg, "skip the PyG baseline");
  cmd->add_flag("--huge-pages", args->huge_pages,
                "CPU: X and Y on 2 MiB transparent huge pages (default: std::vector)");
  cmd->add_flag("--no-epoch", args->no_epoch, "skip the training-epoch comparison");
  cmd->add_option("--reps", args->reps, "timed runs per measurement with cuda (median)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  add_device_flag(*cmd, args->device);
  add_common_flags(*cmd, args->common);
  cmd->callback([args] {
    gnn::parse_reorder(args->reorder);  // bad value: usage error before any work
    require_device(args->device);
    if (args->device == "cuda")
      run_bench_cuda(*args);
    else
      run_bench(*args);
  });
}

}  // namespace gearbox::apps
