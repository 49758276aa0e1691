// serve_engine_bench MODEL [--threads N] [--prefill 512] [--decode 128] [--reps 3] [--kv f32|f16]
//                    [--batch B]:
// gearbox's prefill and decode speed on a GGUF model, printed as one JSON object: median tok/s over
// reps, plus the decode memory-bandwidth floor (weight bytes per token / measured bandwidth).
// Prefill feeds `prefill` fixed pseudo-random tokens as one batch; decode then feeds
// `decode` tokens one at a time after them (as llama-bench's pp/tg tests do). Beside the
// wall-clock rates it prints the process CPU time per token (all threads; waiting threads
// that spin count too), which other processes on a loaded machine disturb much less.
// --batch B (> 1): B sequences, each prefilled with its own `prefill` tokens, then `decode`
// batched decode steps of all B at once (the server's continuous-batching step); decode_tok_s
// counts the B tokens of every step, and decode_step_ms is the median step time.
#include <ctime>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "gearbox/core/blas_kernels.hpp"
#include "gearbox/core/error.hpp"
#include "gearbox/core/machine.hpp"
#include "gearbox/core/output.hpp"
#include "gearbox/core/stats.hpp"
#include "gearbox/core/threads.hpp"
#include "gearbox/serve/model/contiguous_kv_cache.hpp"
#include "gearbox/serve/model/model.hpp"
#include "gearbox/serve/model/model_registry.hpp"

namespace {
// CPU seconds used by this process so far (all threads).
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}
}  // namespace

int main(int argc, char** argv) try {
  using namespace gearbox;
  reexec_for_blas_kernels(argv);  // as the gearbox binary does
  using namespace gearbox::serve;
  if (argc < 2) {
    std::cerr
        << "usage: serve_engine_bench MODEL [--threads N] [--prefill N] [--decode N] [--reps N] "
           "[--kv f32|f16]\n";
    return 2;
  }
  int threads = 1, n_prefill = 512, n_decode = 128, reps = 3, batch = 1;
  KvElem kv = KvElem::kF32;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--kv") {
      const std::string t = argv[i + 1];
      if (t != "f32" && t != "f16") throw Error::usage("--kv takes f32 or f16").found(t);
      kv = t == "f16" ? KvElem::kF16 : KvElem::kF32;
      continue;
    }
    const int v = std::stoi(argv[i + 1]);
    if (a == "--threads")
      threads = v;
    else if (a == "--prefill")
      n_prefill = v;
    else if (a == "--decode")
      n_decode = v;
    else if (a == "--reps")
      reps = v;
    else if (a == "--batch")
      batch = v;
    else
      throw Error::usage("unknown flag").found(a);
  }
  if (batch < 1 || batch > 1024) throw Error::usage("--batch takes 1..1024").field("batch");
  ThreadScope scope(threads);
  auto model = Model::load(resolve_model(argv[1]));
  const auto& cfg = model->config();
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> tok(100, cfg.n_vocab - 1);
  std::vector<std::int32_t> prompt(static_cast<std::size_t>(n_prefill));
  for (auto& t : prompt) t = tok(rng);
  std::vector<float> logits(static_cast<std::size_t>(cfg.n_vocab) * batch);
  std::vector<double> pp, tg, pp_cpu, tg_cpu, step_ms;
  for (int r = 0; r < reps + 1; ++r) {  // first run warms up
    ContiguousKvCache cache(cfg, n_prefill + n_decode, kv);
    Stopwatch sw;
    double cpu0 = process_cpu_seconds();
    for (int b = 0; b < batch; ++b) {
      if (b > 0)
        for (auto& t : prompt) t = tok(rng);
      model->prefill(cache, static_cast<SeqId>(b), prompt, logits);
    }
    const double t_pp = sw.seconds();
    const double c_pp = process_cpu_seconds() - cpu0;
    std::vector<DecodeItem> items(static_cast<std::size_t>(batch));
    std::vector<double> steps;
    sw.reset();
    cpu0 = process_cpu_seconds();
    for (int i = 0; i < n_decode; ++i) {
      Stopwatch one;
      for (int b = 0; b < batch; ++b)
        items[static_cast<std::size_t>(b)] = DecodeItem{static_cast<SeqId>(b), tok(rng), nullptr};
      model->decode(cache, items, logits);
      steps.push_back(1e3 * one.seconds());
    }
    const double t_tg = sw.seconds();
    const double c_tg = process_cpu_seconds() - cpu0;
    if (r == 0) continue;
    const double n_pp = static_cast<double>(n_prefill) * batch, n_tg = double(n_decode) * batch;
    pp.push_back(n_pp / t_pp);
    tg.push_back(n_tg / t_tg);
    pp_cpu.push_back(1e3 * c_pp / n_pp);
    tg_cpu.push_back(1e3 * c_tg / n_tg);
    step_ms.push_back(summarize(steps).median);
  }
  // The floor's bandwidth probed now, after the timed runs and under the same conditions (the
  // cached machine_profile() may come from another day's load).
  const MachineProfile prof = probe_machine(threads);
  const double bytes = static_cast<double>(model->weight_bytes_per_token());
  Json j;
  j["engine"] = "gearbox";
  j["model"] = argv[1];
  j["threads"] = scope.threads();
  j["kv"] = kv == KvElem::kF16 ? "f16" : "f32";
  j["prefill_tokens"] = n_prefill;
  j["decode_tokens"] = n_decode;
  j["batch"] = batch;
  j["decode_step_ms"] = summarize(step_ms).median;
  j["prefill_tok_s"] = summarize(pp).median;
  j["decode_tok_s"] = summarize(tg).median;
  j["prefill_cpu_ms_per_tok"] = summarize(pp_cpu).median;
  j["decode_cpu_ms_per_tok"] = summarize(tg_cpu).median;
  j["weight_bytes_per_token"] = bytes;
  j["mem_bw_gbs"] = prof.mem_bw_gbs;
  j["decode_floor_tok_s"] = prof.mem_bw_gbs * 1e9 / bytes;
  j["fp32_gflops"] = prof.fp32_gflops;
  write_json(std::cout, j, -1);
  return 0;
} catch (const gearbox::Error& e) {
  std::cerr << "serve_engine_bench: error: " << e.what() << "\n";
  return e.exit_code();
}
