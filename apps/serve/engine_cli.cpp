// `gearbox serve generate` and `gearbox serve perplexity`: the engine on the command line.
#include <sys/stat.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>

#include "gearbox/core/cli.hpp"
#include "gearbox/core/error.hpp"
#include "gearbox/core/output.hpp"
#include "gearbox/core/stats.hpp"
#include "gearbox/core/threads.hpp"
#include "gearbox/serve/cap/cap_cache.hpp"
#include "gearbox/serve/cap/cap_policy.hpp"
#include "gearbox/serve/model/contiguous_kv_cache.hpp"
#include "gearbox/serve/model/generate.hpp"
#include "gearbox/serve/model/model.hpp"
#include "gearbox/serve/model/model_registry.hpp"
#include "gearbox/serve/model/perplexity.hpp"
#include "serve_commands.hpp"

namespace gearbox::apps {

namespace {

struct GenerateArgs {
  CommonOptions common;
  std::string model = "stories260K";
  std::string prompt;
  int n = 64;
  float temp = 0.0f;
  int top_k = 40;
  float top_p = 1.0f;
  int ctx = 0;
  bool chat = false;
  bool seed_given = false;
  std::string kv = "full";            // CAP policy spelling (cap/policy_spec.hpp)
  std::string rope_scaling = "none";  // rope policy knobs: METHOD[,KNOB=V...]
  double rope_factor = 0;             // 0 = the rope policy's default
  double kv_budget_mib = 2048;
};

struct PerplexityArgs {
  CommonOptions common;
  std::string model = "stories260K";
  std::string text_file;
  int ctx = 0;
};

// The largest --text-file perplexity reads (a few million tokens: hours of scoring).
constexpr std::uint64_t kMaxTextFileBytes = 64ull << 20;

// Reads `path` (a regular file of at most kMaxTextFileBytes, read as a stream so a file that
// grows while read is cut off too); throws Error::input naming the file and --text-file.
std::string read_text_file(const std::string& path) {
  const std::string limit = std::to_string(kMaxTextFileBytes >> 20) + " MiB";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw Error::input("cannot read text file").at(path).field("text-file");
  if (!S_ISREG(st.st_mode))
    throw Error::input("not a regular file")
        .at(path)
        .field("text-file")
        .expected("a regular text file");
  auto too_big = [&](std::uint64_t bytes) {
    return Error::input("text file too large")
        .at(path)
        .field("text-file")
        .expected("at most " + limit)
        .found(std::to_string(bytes) + " bytes");
  };
  if (static_cast<std::uint64_t>(st.st_size) > kMaxTextFileBytes)
    throw too_big(static_cast<std::uint64_t>(st.st_size));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error::input("cannot read text file").at(path).field("text-file");
  std::string text;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxTextFileBytes) throw too_big(text.size());
  }
  if (in.bad()) throw Error::input("cannot read text file").at(path).field("text-file");
  return text;
}

// Adds --json and --threads (for commands with no random choice, so no --seed).
void add_json_threads_flags(CLI::App& app, CommonOptions& opts) {
  app.add_flag("--json", opts.json, "Print one JSON document on stdout (progress on stderr)");
  app.add_option("--threads", opts.threads, "Worker threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
}

std::shared_ptr<serve::Model> load_model(const std::string& name) {
  return serve::Model::load(serve::resolve_model(name));
}

// The CAP plan of `--kv`, `--rope-scaling`, `--rope-factor` and `--ctx`; throws Error::usage
// on a bad spelling or a flag the policy cannot take.
serve::cap::CapPlan generate_plan(const GenerateArgs& a) {
  std::string rope = a.rope_scaling == "none" ? "" : a.rope_scaling;
  if (a.rope_factor > 0) {
    if (rope.empty())
      throw Error::usage("--rope-factor needs --rope-scaling linear, ntk or yarn")
          .field("rope-factor");
    rope += ",factor=" + fmt_num(a.rope_factor, 6);
  }
  auto plan = serve::cap::plan_cap(serve::cap::cap_spelling(a.kv, rope));
  if (a.ctx > 0) {
    if (plan.recipe.eviction != serve::cap::KvEviction::kNone)
      throw Error::usage("--ctx limits policies that keep every token; this one evicts")
          .field("ctx")
          .found(plan.spelling);
    plan.recipe.ctx_limit = a.ctx;
  }
  return plan;
}

void run_generate(const GenerateArgs& a) {
  const auto plan = generate_plan(a);  // bad spellings fail before the model loads
  ThreadScope threads(a.common.threads);
  auto model = load_model(a.model);
  const auto& cfg = model->config();
  const auto& tok = model->tokenizer();
  std::vector<std::int32_t> prompt;
  if (a.chat) {
    const serve::ChatMessage msg{"user", a.prompt};
    prompt = tok.encode(tok.apply_chat_template(std::span(&msg, 1), true), tok.add_bos(), true);
  } else {
    prompt = tok.encode_prompt(a.prompt);  // BOS/EOS as the file's tokenizer flags say
  }
  if (prompt.empty()) {
    if (tok.bos() < 0)
      throw Error::usage("empty prompt and the model has no BOS token").field("prompt");
    prompt.push_back(tok.bos());
  }
  serve::cap::CapCacheOptions co;
  co.budget_bytes = static_cast<std::size_t>(a.kv_budget_mib * (1 << 20));
  auto cc = serve::cap::make_cap_cache(plan, cfg, model->rope(), co);
  // The last token generated is never run through the model: P + n - 1 positions.
  const auto positions = static_cast<std::int64_t>(prompt.size()) + std::max(a.n - 1, 0);
  if (positions > cc.ctx_limit) {
    const std::string holds = "the context holds " + std::to_string(cc.ctx_limit) + " tokens" +
                              (a.ctx > 0 ? " by --ctx" : "");
    if (static_cast<std::int64_t>(prompt.size()) > cc.ctx_limit)
      throw Error::usage("prompt longer than the context")
          .field("prompt")
          .expected(holds)
          .found(std::to_string(prompt.size()) + " prompt tokens");
    throw Error::usage("-n too large for the context")
        .field("n")
        .expected("at most " +
                  std::to_string(cc.ctx_limit - static_cast<std::int64_t>(prompt.size()) + 1) +
                  " after a " + std::to_string(prompt.size()) + "-token prompt: " + holds)
        .found(std::to_string(a.n));
  }
  serve::GenerateOptions opt;
  opt.max_tokens = a.n;
  opt.sampling = {a.temp, a.top_k, a.top_p, a.common.seed};
  opt.rope = cc.rope.get();
  opt.prefill_chunk = cc.max_step;
  const bool stream = !a.common.json;
  const auto res = serve::generate(*model, cc.kv(), prompt, opt, [&](const std::string& s) {
    if (stream) std::cout << s << std::flush;
  });
  const auto& cache = cc.kv();
  if (stream) {
    std::cout << "\n";
    std::cerr << "gearbox: " << res.prompt_tokens << " prompt tokens, " << res.tokens.size()
              << " generated; ttft " << fmt_num(res.ttft_ms, 1) << " ms, prefill "
              << fmt_num(res.prefill_tok_s, 1) << " tok/s, decode " << fmt_num(res.decode_tok_s, 1)
              << " tok/s, " << threads.threads() << " threads; kv " << cc.spelling << " ("
              << cc.goals << "): " << cache.n_rows(opt.seq) << " rows, "
              << fmt_num(static_cast<double>(cache.bytes_in_use()) / (1 << 20), 2) << " MiB\n";
    return;
  }
  Json j;
  j["model"] = a.model;
  j["text"] = res.text;
  j["tokens"] = res.tokens;
  j["prompt_tokens"] = res.prompt_tokens;
  j["finish_reason"] = res.finish_reason;
  j["ttft_ms"] = res.ttft_ms;
  j["prefill_tok_s"] = res.prefill_tok_s;
  j["decode_tok_s"] = res.decode_tok_s;
  j["kv"] = cc.spelling;
  j["kv_goals"] = cc.goals;
  j["kv_ctx_limit"] = cc.ctx_limit == INT64_MAX ? Json(nullptr) : Json(cc.ctx_limit);
  j["kv_max_step"] = cc.max_step;
  j["kv_tokens"] = cache.n_past(opt.seq);       // tokens run through the model
  j["kv_rows"] = cache.n_rows(opt.seq);         // rows held at the end (< kv_tokens when evicting)
  j["kv_bytes"] = cache.bytes_in_use();         // resident
  j["kv_cold_bytes"] = cc.cache->cold_bytes();  // offloaded
  // Bytes a further token adds (global layers only when local layers ring their window).
  j["kv_bytes_per_token"] = cc.cache->bytes_per_token();
  j["threads"] = threads.threads();
  write_json(std::cout, j);
}

void run_perplexity(const PerplexityArgs& a) {
  if (a.ctx == 1)  // a window of one token has no next token to score
    throw Error::usage("--ctx 1 scores nothing")
        .field("ctx")
        .expected("0 or at least 2")
        .found("1");
  ThreadScope threads(a.common.threads);
  const std::string text = read_text_file(a.text_file);
  auto model = load_model(a.model);
  const auto& cfg = model->config();
  if (a.ctx > cfg.n_ctx_train)
    throw Error::usage("--ctx beyond the model's trained context")
        .field("ctx")
        .expected("2.." + std::to_string(cfg.n_ctx_train))
        .found(std::to_string(a.ctx));
  const auto& tok = model->tokenizer();
  const auto tokens = tok.encode(text, tok.add_bos());  // BOS first if the file says so
  const int ctx = a.ctx > 0 ? a.ctx : std::min(cfg.n_ctx_train, 512);
  if (tokens.size() < 2) throw Error::input("text too short: fewer than 2 tokens").at(a.text_file);
  Stopwatch sw;
  const auto pr = serve::perplexity(*model, tokens, ctx);
  const double nll = pr.nll;
  const std::size_t scored = pr.scored, windows = pr.windows;
  const double ppl = std::exp(nll / static_cast<double>(scored));
  if (a.common.json) {
    Json j;
    j["model"] = a.model;
    j["ppl"] = ppl;
    j["nll_per_token"] = nll / static_cast<double>(scored);
    j["tokens_scored"] = scored;
    j["windows"] = windows;
    j["ctx"] = ctx;
    j["seconds"] = sw.seconds();
    write_json(std::cout, j);
  } else {
    std::cout << "perplexity " << fmt_num(ppl, 4) << " over " << scored << " tokens (" << windows
              << " windows of " << ctx << ")\n";
  }
}

}  // namespace

void register_serve_engine_commands(CLI::App& serve) {
  auto g = std::make_shared<GenerateArgs>();
  auto* gen = serve.add_subcommand("generate", "Generate text from a prompt with a GGUF model");
  gen->add_option("--model", g->model, "Model name (see error for known names) or .gguf path");
  gen->add_option("--prompt", g->prompt, "Prompt text (\"\" = start from BOS)");
  gen->add_option("-n", g->n, "Tokens to generate")->check(CLI::Range(0, 1 << 20));
  gen->add_option("--temp", g->temp, "Temperature (0 = greedy)")->check(CLI::Range(0.0, 100.0));
  gen->add_option("--top-k", g->top_k, "Top-k cut (0 = none)")->check(CLI::Range(0, 1 << 24));
  gen->add_option("--top-p", g->top_p, "Nucleus cut in (0, 1]")->check(CLI::Range(1e-6, 1.0));
  gen->add_option("--ctx", g->ctx, "Context limit in tokens (0 = the policy's: trained context)")
      ->check(CLI::Range(0, 1 << 24));
  gen->add_flag("--chat", g->chat, "Wrap the prompt in the model's chat template as a user turn");
  gen->add_option("--kv", g->kv,
                  "Long-context policy NAME[:KNOB=V,...][+...] as in cap-eval --policy: full, "
                  "streaming:sink=4,window=1024, h2o:budget=1024, quant:int8|int4, "
                  "offload:to=file|host, compositions with +");
  gen->add_option("--rope-scaling", g->rope_scaling,
                  "RoPE context extension: none, linear, ntk, yarn (knobs as in rope:...)");
  gen->add_option("--rope-factor", g->rope_factor, "RoPE extension factor (default 4)")
      ->check(CLI::Range(1.0, 1024.0));
  gen->add_option("--kv-budget-mib", g->kv_budget_mib, "Resident KV budget, MiB")
      ->check(CLI::Range(0.001, 1e7));
  add_common_flags(*gen, g->common);
  gen->callback([g] { run_generate(*g); });

  auto p = std::make_shared<PerplexityArgs>();
  auto* ppl = serve.add_subcommand("perplexity", "Perplexity of a model on a text file");
  ppl->add_option("--model", p->model, "Model name or .gguf path");
  ppl->add_option("--text-file", p->text_file, "UTF-8 text to score")->required();
  ppl->add_option("--ctx", p->ctx,
                  "Window size in tokens, 2 to the trained context (0 = min(trained, 512))")
      ->check(CLI::Range(0, 1 << 24));
  // Perplexity makes no random choice: no --seed.
  add_json_threads_flags(*ppl, p->common);
  ppl->callback([p] { run_perplexity(*p); });
}

}  // namespace gearbox::apps
