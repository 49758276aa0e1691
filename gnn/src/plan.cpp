#include "gearbox/gnn/plan.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include "gearbox/core/error.hpp"
#include "gearbox/core/output.hpp"
#include "gearbox/core/paths.hpp"
#include "gearbox/core/stats.hpp"
#include "gearbox/gnn/device_registry.hpp"

namespace gearbox::gnn {

namespace fs = std::filesystem;
using Json = nlohmann::json;

Json Candidate::to_json() const {
  Json j;
  if (device != Device::kCpu) {  // the device selector's form: the whole kernel, or every class
    j["label"] = label;
    if (!whole.empty()) {
      j["whole"] = whole;
    } else {
      j["thresholds"] = {{"dense_min", thresholds.dense_min},
                         {"medium_min", thresholds.medium_min}};
      for (int c = 0; c < kDensityClasses; ++c)
        j["kernels"][density_class_name(static_cast<DensityClass>(c))] = kernel[c];
    }
    j["predicted_ms"] = predicted_ms;
    j["measured_ms"] = measured_ms ? Json(*measured_ms) : Json(nullptr);
    return j;
  }
  Json k = Json::object();
  for (int c = 0; c < kDensityClasses; ++c)
    if (!kernel[c].empty()) k[density_class_name(static_cast<DensityClass>(c))] = kernel[c];
  j = {{"label", label},
       {"whole_csr", !whole.empty()},
       {"kernels", k},
       {"predicted_ms", predicted_ms}};
  if (whole.empty())
    j["thresholds"] = {{"dense_min", thresholds.dense_min}, {"medium_min", thresholds.medium_min}};
  j["measured_ms"] = measured_ms ? Json(*measured_ms) : Json(nullptr);
  return j;
}

ExecPlan::ExecPlan(std::shared_ptr<const Csr> a, const std::vector<BlockInfo>& blocks,
                   const Candidate& c, CallerOrder caller_order)
    : a_(std::move(a)), cand_(c), order_(std::move(caller_order)) {
  if (!a_) throw Error::runtime("plan: no matrix");
  if (!c.whole.empty()) {
    whole_ = find_kernel(c.whole, c.device).make(Subgraph{a_.get(), {}});
  } else {
    split_ = split_by_density(*a_, blocks, c.thresholds);
    for (int k = 0; k < kDensityClasses; ++k) {
      const auto cls = static_cast<DensityClass>(k);
      if (c.kernel[k].empty()) continue;
      kernels_[k] =
          find_kernel(c.kernel[k], c.device).make(Subgraph{&split_.of(cls), split_.blocks_of(cls)});
    }
    // A set naming no kernel still has to write Y: the remainder's CSR writes zeros.
    if (!kernels_[0] && !kernels_[1] && !kernels_[2])
      kernels_[static_cast<int>(DensityClass::kSparse)] =
          find_kernel("csr", c.device).make(Subgraph{&split_.of(DensityClass::kSparse), {}});
  }
  if (!order_) return;
  if (static_cast<index_t>(order_->size()) != a_->rows)
    throw Error::runtime("plan: the caller order's size differs from the matrix");
  if (c.device != Device::kCpu) {  // the device copies X and Y around the kernels
    const DeviceSupport& d = device_support(c.device);
    if (!d.row_order)
      throw Error::usage("plan: this device takes no caller order")
          .field("device")
          .found(device_name(c.device));
    device_order_ = d.row_order(*order_);
    return;
  }
  // Fuse the permutation into every kernel, or into none (then copy around them).
  std::array<std::unique_ptr<Kernel>, kDensityClasses + 1> fused;
  fused_ = true;
  for (int k = 0; k <= kDensityClasses && fused_; ++k) {
    const Kernel* src = k < kDensityClasses ? kernels_[k].get() : whole_.get();
    if (src && !(fused[k] = src->in_caller_order(*order_))) fused_ = false;
  }
  if (!fused_) return;
  for (int k = 0; k < kDensityClasses; ++k) kernels_[k] = std::move(fused[k]);
  whole_ = std::move(fused[kDensityClasses]);
}

const char* ExecPlan::caller_order_mode() const {
  return !order_ ? "planned" : fused_ ? "fused" : "copied";
}

void ExecPlan::run(const float* x, int f, float* y) const {
  if (!order_ || fused_) {
    run_kernels(x, f, y);
    return;
  }
  if (device_order_) {
    const float* xp = device_order_->to_planned(x, f);
    run_kernels(xp, f, device_order_->planned_output(f));
    device_order_->to_caller(f, y);
    return;
  }
  // Copy X into the planned order (planned row i = caller row old_of_new[i]), run, copy back.
  const auto& p = *order_;
  const index_t n = a_->rows;
  const std::size_t size = static_cast<std::size_t>(n) * f, row = sizeof(float) * f;
  xbuf_.resize(size);
  ybuf_.resize(size);
#pragma omp parallel for schedule(static) if (size >= (std::size_t{1} << 18))
  for (index_t i = 0; i < n; ++i)
    std::memcpy(xbuf_.data() + static_cast<std::size_t>(i) * f,
                x + static_cast<std::size_t>(p[i]) * f, row);
  run_kernels(xbuf_.data(), f, ybuf_.data());
#pragma omp parallel for schedule(static) if (size >= (std::size_t{1} << 18))
  for (index_t i = 0; i < n; ++i)
    std::memcpy(y + static_cast<std::size_t>(p[i]) * f,
                ybuf_.data() + static_cast<std::size_t>(i) * f, row);
}

void ExecPlan::run_kernels(const float* x, int f, float* y) const {
  if (whole_) {
    whole_->run(x, f, y, false);
    return;
  }
  // The sparse remainder writes every row first; the block classes then add their rows.
  const int order[] = {static_cast<int>(DensityClass::kSparse),
                       static_cast<int>(DensityClass::kMedium),
                       static_cast<int>(DensityClass::kDense)};
  bool written = false;
  for (int k : order) {
    if (!kernels_[k]) continue;
    kernels_[k]->run(x, f, y, written);
    written = true;
  }
}

std::size_t ExecPlan::format_bytes() const {
  if (whole_) return whole_->format_bytes();
  std::size_t b = 0;
  for (const auto& k : kernels_)
    if (k) b += k->format_bytes();
  return b;
}

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// The paired-ratio margin a chosen split must still beat plain CSR by at the re-check.
constexpr double kRecheckMargin = 0.98;

// Dense blocks may hold at most this many bytes (a dense block of density d costs 1/d times
// its CSR entries): candidates above are not proposed.
std::size_t dense_budget(const Csr& a) {
  return std::max<std::size_t>(64u << 20, a.col.size() * 32);
}

// caller_order: the candidates were measured reading X / writing Y through the permutation.
// The version suffix changes when kernels change enough to make cached choices stale (v4: the
// AVX-512 row loop prefetches 128-float slices into L2).
std::string cache_key(const Csr& a, const std::vector<index_t>& starts, int f, int threads,
                      bool caller_order) {
  std::uint64_t h = checksum(a);
  for (index_t s : starts) h = (h ^ static_cast<std::uint64_t>(s)) * 1099511628211ull;
  const CpuInfo cpu = cpu_info();
  for (char ch : cpu.model) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
  return std::to_string(h) + "-f" + std::to_string(f) + "-t" + std::to_string(threads) +
         (caller_order ? "-c" : "") + "-v4";
}

fs::path cache_file(const std::string& key) {
  return cache_dir() / "gnn-plans" / (key + ".json");
}

// Plain CSR SpMM on the whole matrix (the fallback), predicted cost not filled in.
Candidate whole_csr_candidate() {
  Candidate c;
  c.label = "csr";
  c.whole = "csr";
  c.kernel[static_cast<int>(DensityClass::kSparse)] = "csr";
  return c;
}

}  // namespace

std::vector<Candidate> propose_candidates(const Csr& a, const std::vector<BlockInfo>& blocks, int f,
                                          const MachineProfile& m) {
  // The CPU's cost-model proposal (other devices select through their registered selector).
  std::vector<Candidate> out;
  Candidate whole = whole_csr_candidate();
  whole.predicted_ms = find_kernel("csr").cost(Subgraph{&a, {}}, f, m).seconds * 1e3;
  out.push_back(whole);
  // Where plain CSR prefetches (F > kCsrNoPrefetchMaxWidth), the same loop without: the
  // prefetch pays where X exceeds the caches and costs load slots where it fits (levers bench,
  // 2026-12-07: 1.07-1.3x either way depending on the graph, not on F alone). Same cost model:
  // only the measurement tells them apart.
  if (f > kCsrNoPrefetchMaxWidth) {
    Candidate nopf = whole;
    nopf.label = nopf.whole = "csr-nopf";
    nopf.kernel[static_cast<int>(DensityClass::kSparse)] = "csr-nopf";
    out.push_back(nopf);
  }
  const struct {
    const char* label;
    SplitThresholds th;
  } grid[] = {{"split-d50-m15", {0.50, 0.15}}, {"split-d25-m06", {0.25, 0.06}},
              {"split-d12-m03", {0.12, 0.03}}, {"split-m06", {kInf, 0.06}},
              {"split-d25", {0.25, kInf}},     {"split-none", {kInf, kInf}}};
  for (const auto& g : grid) {
    std::size_t dense_bytes = 0;
    for (const auto& b : blocks)
      if (g.th.classify(b.density()) == DensityClass::kDense)
        dense_bytes += static_cast<std::size_t>(b.size()) * b.size() * 4;
    if (dense_bytes > dense_budget(a)) continue;
    const DensitySplit s = split_by_density(a, blocks, g.th);
    Candidate c;
    c.label = g.label;
    c.thresholds = g.th;
    bool any_block = false;
    for (int k = 0; k < kDensityClasses; ++k) {
      const auto cls = static_cast<DensityClass>(k);
      const Subgraph sg{&s.of(cls), s.blocks_of(cls)};
      if (sg.a->nnz() == 0 && cls != DensityClass::kSparse) continue;
      if (cls != DensityClass::kSparse) any_block = true;
      double best = kInf;
      for (const KernelSpec* spec : kernels_for(cls)) {
        const double ms = spec->cost(sg, f, m).seconds * 1e3;
        if (ms < best) {
          best = ms;
          c.kernel[k] = spec->name;
        }
      }
      c.predicted_ms += best;
    }
    // A split with no block class is the whole matrix again (through the remainder kernel):
    // keep it only when its remainder kernel differs from plain CSR.
    if (!any_block && c.kernel[static_cast<int>(DensityClass::kSparse)] == "csr") continue;
    out.push_back(c);
  }
  std::stable_sort(out.begin(), out.end(), [](const Candidate& x, const Candidate& y) {
    return x.predicted_ms < y.predicted_ms;
  });
  return out;
}

AdaptiveAggregator::AdaptiveAggregator(Csr a, std::vector<index_t> block_starts,
                                       SelectorOptions opt, int threads)
    : AdaptiveAggregator(std::make_shared<const Csr>(std::move(a)), std::move(block_starts),
                         std::move(opt), threads) {}

AdaptiveAggregator::AdaptiveAggregator(std::shared_ptr<const Csr> a,
                                       std::vector<index_t> block_starts, SelectorOptions opt,
                                       int threads, CallerOrder caller_order)
    : a_(std::move(a)),
      starts_(std::move(block_starts)),
      opt_(std::move(opt)),
      threads_(threads),
      order_(std::move(caller_order)) {
  if (!a_) throw Error::runtime("plan: no matrix");
  if (opt_.device != Device::kCpu) {
    (void)device_support(opt_.device);  // Error::usage when the device is not registered
  }
  blocks_ = diagonal_blocks(*a_, starts_);
}

const ExecPlan& AdaptiveAggregator::plan_for(int f) {
  auto it = plans_.find(f);
  if (it != plans_.end()) return *it->second;
  if (opt_.device != Device::kCpu) {
    select_on_device({f});
    return *plans_.at(f);
  }
  const std::vector<float> x = random_features(static_cast<std::size_t>(a_->cols) * f);
  return select(f, x.data());
}

std::vector<float> random_features(std::size_t count) {
  std::vector<float> x(count);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(-1, 1);
  for (auto& v : x) v = d(rng);
  return x;
}

void AdaptiveAggregator::prepare(const std::vector<int>& widths) {
  if (opt_.device != Device::kCpu) {
    select_on_device(widths);
    return;
  }
  for (int f : widths) plan_for(f);
}

void AdaptiveAggregator::select_on_device(const std::vector<int>& widths) {
  std::vector<int> todo;
  for (int f : widths)
    if (!plans_.count(f) && std::find(todo.begin(), todo.end(), f) == todo.end()) todo.push_back(f);
  if (todo.empty()) return;
  Stopwatch sw;
  const std::vector<WidthChoice> chosen =
      device_support(opt_.device).select(a_, blocks_, todo, opt_);
  if (chosen.size() != todo.size())
    throw Error::runtime("plan: the device selector returned a choice per width");
  for (std::size_t i = 0; i < todo.size(); ++i) {
    plans_[todo[i]] = std::make_unique<ExecPlan>(a_, blocks_, chosen[i].choice, order_);
    explain_[todo[i]] = chosen[i].explain;
  }
  selection_s_ += sw.seconds();
}

void AdaptiveAggregator::run(const float* x, int f, float* y) {
  if (opt_.device != Device::kCpu) {  // selected with the device's own random inputs
    plan_for(f).run(x, f, y);
    return;
  }
  auto it = plans_.find(f);
  if (it == plans_.end()) {
    select(f, x).run(x, f, y);
    return;
  }
  auto c = calls_.find(f);
  if (c != calls_.end() && ++c->second >= opt_.recheck_after) {
    calls_.erase(c);
    recheck(f, x);
  }
  plans_[f]->run(x, f, y);
}

std::vector<std::vector<double>> AdaptiveAggregator::measure_interleaved(
    const std::vector<const ExecPlan*>& plans, const float* x, int f, int reps) const {
  std::vector<float> y(static_cast<std::size_t>(a_->rows) * f);
  std::vector<std::vector<double>> ms(plans.size());
  // Each round runs the plans in a new order (no plan always follows the same one), and each
  // timed run follows an untimed run of the same plan, which leaves X, the matrix and Y's
  // lines where that plan's threads want them: timed straight after another plan, a run paid
  // for the other's placement (the levers bench's anchor, always after the same variant, read
  // up to 1.5x slower than the same loop elsewhere in its rounds).
  std::vector<std::size_t> order(plans.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937 shuffle_rng(static_cast<unsigned>(f));
  for (int r = 0; r < std::max(1, reps); ++r) {
    std::shuffle(order.begin(), order.end(), shuffle_rng);
    for (const std::size_t i : order) {
      const auto once = [&] { plans[i]->run(x, f, y.data()); };
      once();
      if (opt_.timer) {
        ms[i].push_back(opt_.timer(plans[i]->candidate(), once));
      } else {
        Stopwatch w;
        once();
        ms[i].push_back(w.ms());
      }
    }
  }
  return ms;
}

PairedComparison compare_paired(const std::vector<double>& cand_ms,
                                const std::vector<double>& csr_ms, double margin) {
  PairedComparison p;
  std::vector<double> ratio;
  for (std::size_t i = 0; i < std::min(cand_ms.size(), csr_ms.size()); ++i)
    ratio.push_back(cand_ms[i] / std::max(1e-12, csr_ms[i]));
  if (ratio.empty()) return p;
  std::sort(ratio.begin(), ratio.end());
  const auto at = [&](double q) {
    return ratio[std::min(ratio.size() - 1, static_cast<std::size_t>(q * ratio.size()))];
  };
  p.median_ratio = at(0.5);
  p.upper_ratio = at(0.75);
  p.cand_ms = summarize(cand_ms).median;
  p.csr_ms = summarize(csr_ms).median;
  p.wins = p.median_ratio < margin && p.upper_ratio < 1.0 && p.cand_ms < margin * p.csr_ms;
  return p;
}

void AdaptiveAggregator::write_cache(int f, const Candidate& choice, const Json& candidates) const {
  if (!opt_.use_cache) return;
  const fs::path file = cache_file(cache_key(*a_, starts_, f, threads_, order_ != nullptr));
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  std::ofstream out(file);
  Json rec = choice.to_json();
  rec["candidates"] = candidates;
  out << rec.dump(1);
}

void AdaptiveAggregator::recheck(int f, const float* x) {
  Stopwatch sw;
  Candidate csr = whole_csr_candidate();
  const ExecPlan csr_plan(a_, blocks_, csr, order_);
  const auto ms = measure_interleaved({plans_[f].get(), &csr_plan}, x, f, opt_.reps);
  // The split stays only while it still wins clearly (same rule as the selection, with a
  // looser margin): a tie goes to CSR.
  const PairedComparison cmp = compare_paired(ms[0], ms[1], kRecheckMargin);
  const bool slower = !cmp.wins;
  Json& ex = explain_[f];
  ex["recheck"] = {{"after_calls", opt_.recheck_after},
                   {"chosen", plans_[f]->candidate().label},
                   {"chosen_ms", cmp.cand_ms},
                   {"csr_ms", cmp.csr_ms},
                   {"paired_ratio_median", cmp.median_ratio},
                   {"paired_ratio_upper_quartile", cmp.upper_ratio},
                   {"switched_to_csr", slower}};
  if (slower) {
    csr.measured_ms = cmp.csr_ms;
    plans_[f] = std::make_unique<ExecPlan>(a_, blocks_, csr, order_);
    ex["choice"] = csr.to_json();
    ex["reason"] = "re-check after " + std::to_string(opt_.recheck_after) + " calls: the chosen " +
                   ex["recheck"]["chosen"].get<std::string>() + " measured " +
                   fmt_num(cmp.cand_ms, 3) + " ms vs plain CSR " + fmt_num(cmp.csr_ms, 3) +
                   " ms (paired ratio " + fmt_num(cmp.median_ratio, 3) +
                   "): not clearly faster, switched to CSR";
    write_cache(f, csr, ex.value("candidates", Json::array()));
  }
  selection_s_ += sw.seconds();
}

const ExecPlan& AdaptiveAggregator::select(int f, const float* x) {
  Stopwatch sw;
  Json ex = {{"width", f}};
  if (opt_.force_csr) {
    const Candidate c = whole_csr_candidate();
    plans_[f] = std::make_unique<ExecPlan>(a_, blocks_, c, order_);
    ex["choice"] = c.to_json();
    ex["reason"] = "forced by --kernels csr";
    explain_[f] = ex;
    return *plans_[f];
  }
  if (machine_.mem_bw_gbs <= 0) machine_ = machine_profile(threads_);
  std::vector<Candidate> cands = propose_candidates(*a_, blocks_, f, machine_);
  const std::string key = cache_key(*a_, starts_, f, threads_, order_ != nullptr);
  // A cached choice names a candidate label: reuse it when that candidate is still proposed.
  if (opt_.use_cache) {
    std::ifstream in(cache_file(key));
    Json cached;
    if (in && (in >> cached) && cached.is_object() && cached.contains("label")) {
      for (auto& c : cands)
        if (c.label == cached["label"].get<std::string>()) {
          if (cached.contains("measured_ms") && cached["measured_ms"].is_number())
            c.measured_ms = cached["measured_ms"].get<double>();
          plans_[f] = std::make_unique<ExecPlan>(a_, blocks_, c, order_);
          if (!c.whole_csr() && opt_.recheck_after > 0) calls_[f] = 0;
          ex["choice"] = c.to_json();
          ex["reason"] = "cached choice from " + cache_file(key).string() + " (measured earlier)";
          ex["cached"] = true;
          ex["candidates"] = cached.value("candidates", Json::array());
          explain_[f] = ex;
          selection_s_ += sw.seconds();
          return *plans_[f];
        }
    }
  }
  // Measure plain CSR and the best predicted others, interleaved, by their medians.
  std::vector<Candidate*> measured;
  std::vector<std::unique_ptr<ExecPlan>> plans;
  int others = 0;  // splits measured (the whole-matrix candidates always are)
  for (auto& c : cands) {
    if (c.whole.empty() && others >= opt_.max_measured) continue;
    if (c.whole.empty()) ++others;
    plans.push_back(std::make_unique<ExecPlan>(a_, blocks_, c, order_));
    measured.push_back(&c);
  }
  std::vector<const ExecPlan*> views;
  for (const auto& p : plans) views.push_back(p.get());
  const auto ms = measure_interleaved(views, x, f, opt_.reps);
  std::size_t csr_i = 0;
  for (std::size_t i = 0; i < measured.size(); ++i) {
    measured[i]->measured_ms = summarize(ms[i]).median;
    if (measured[i]->whole_csr()) csr_i = i;
  }
  plans.clear();
  // A split is chosen only when it beats plain CSR clearly in the same rounds: paired ratio
  // (split / CSR of one round) below kSelectMargin at the median and below 1 at the upper
  // quartile. Anything closer is noise, and noise goes to CSR.
  const Candidate* best = measured[csr_i];
  double best_ratio = 1.0;
  for (std::size_t i = 0; i < measured.size(); ++i) {
    if (i == csr_i) continue;
    const PairedComparison cmp = compare_paired(ms[i], ms[csr_i], kSelectMargin);
    if (cmp.wins && cmp.median_ratio < best_ratio) {
      best = measured[i];
      best_ratio = cmp.median_ratio;
    }
  }
  const Candidate* csr = measured[csr_i];
  Json cj = Json::array();
  for (const auto& c : cands) cj.push_back(c.to_json());
  ex["candidates"] = cj;
  ex["choice"] = best->to_json();
  ex["cached"] = false;
  if (best->whole_csr())
    ex["reason"] =
        "no candidate beat plain CSR clearly (paired ratio < 0.95 at the median and < 1 "
        "at the upper quartile of the interleaved rounds): plain CSR";
  else
    ex["reason"] = "fastest clear winner: paired ratio " + fmt_num(best_ratio, 3) +
                   " of plain CSR (" + fmt_num(*best->measured_ms, 3) + " ms vs " +
                   fmt_num(*csr->measured_ms, 3) + " ms)";
  plans_[f] = std::make_unique<ExecPlan>(a_, blocks_, *best, order_);
  if (!best->whole_csr() && opt_.recheck_after > 0) calls_[f] = 0;
  explain_[f] = ex;
  write_cache(f, *best, cj);
  selection_s_ += sw.seconds();
  return *plans_[f];
}

Json AdaptiveAggregator::explain() const {
  Json per = Json::object();
  for (const auto& [f, e] : explain_) {
    per[std::to_string(f)] = e;
    const auto p = plans_.find(f);
    if (order_ && p != plans_.end())
      per[std::to_string(f)]["caller_order"] = p->second->caller_order_mode();
  }
  return per;
}

Json AdaptiveAggregator::kernels() const {
  Json k = Json::object();
  for (const auto& [f, p] : plans_) {
    const Candidate& c = p->candidate();
    if (c.device != Device::kCpu) {
      k[std::to_string(f)] = c.to_json();
      continue;
    }
    std::string s;
    if (!c.whole.empty())
      s = c.whole;
    else
      for (int i = 0; i < kDensityClasses; ++i)
        if (!c.kernel[i].empty())
          s += (s.empty() ? "" : "+") +
               std::string(density_class_name(static_cast<DensityClass>(i))) + ":" + c.kernel[i];
    k[std::to_string(f)] = s;
  }
  return k;
}

}  // namespace gearbox::gnn
