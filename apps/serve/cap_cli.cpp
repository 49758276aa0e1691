// `gearbox serve cap-eval`: the C/A/P report of long-context policies on the user's model.
#include <fstream>
#include <iostream>
#include <sstream>

#include "gearbox/core/cli.hpp"
#include "gearbox/core/error.hpp"
#include "gearbox/core/output.hpp"
#include "gearbox/core/threads.hpp"
#include "gearbox/serve/cap/cap_eval.hpp"
#include "gearbox/serve/cap/cap_policy.hpp"
#include "gearbox/serve/model/model.hpp"
#include "gearbox/serve/model/model_registry.hpp"
#include "serve_commands.hpp"

namespace gearbox::apps {
namespace {

struct CapEvalArgs {
  CommonOptions common;
  std::string model = "stories260K";
  std::vector<int> lengths = {512, 1024, 2048};
  std::vector<std::string> policies;
  std::string passkey = "auto";
  int trials = 10;
  int fidelity_tokens = 64;
  int decode_tokens = 16;
  int chunk = 512;
  double budget_mib = 2048;
  std::int64_t trained_ctx = 0;
  std::string out_json;
};

void run_cap_eval_cmd(const CapEvalArgs& a) {
  for (const auto& p : a.policies) serve::cap::plan_cap(p);  // bad spellings fail before loading
  ThreadScope threads(a.common.threads);
  const auto path = serve::resolve_model(a.model);
  auto model = serve::Model::load(path);
  serve::cap::CapEvalOptions o;
  o.lengths = a.lengths;
  o.policies = a.policies.empty() ? std::vector<std::string>{"full"} : a.policies;
  // Passkey retrieval needs a model that can copy from its context: instruct models (with a
  // chat template) by default.
  o.passkey =
      a.passkey == "on" || (a.passkey == "auto" && !model->tokenizer().chat_template().empty());
  o.trials = a.trials;
  o.fidelity_tokens = a.fidelity_tokens;
  o.decode_tokens = a.decode_tokens;
  o.chunk = a.chunk;
  o.budget_bytes = static_cast<std::size_t>(a.budget_mib * (1 << 20));
  o.trained_ctx = a.trained_ctx;
  o.seed = a.common.seed;
  o.progress = [](const std::string& line) { std::cerr << "cap-eval: " << line << "\n"; };
  std::cerr << "cap-eval: " << path.filename().string() << ", " << threads.threads()
            << " threads, passkey " << (o.passkey ? "on" : "off") << "\n";
  // --out-json is rewritten after every cell, so a long run that is stopped keeps its rows.
  const auto save = [&](const std::vector<serve::cap::CapEvalRow>& rows) {
    if (a.out_json.empty()) return;
    std::ofstream f(a.out_json);
    if (!f) throw Error::runtime("cannot write the JSON report").at(a.out_json);
    write_json(f, serve::cap::cap_eval_json(path.stem().string(), rows));
  };
  const auto rows = serve::cap::run_cap_eval(*model, o, save);
  const Json doc = serve::cap::cap_eval_json(path.stem().string(), rows);
  save(rows);
  if (a.common.json) {
    write_json(std::cout, doc);
  } else {
    serve::cap::print_cap_eval(std::cout, rows);
  }
}

}  // namespace

void register_serve_cap_commands(CLI::App& serve) {
  auto a = std::make_shared<CapEvalArgs>();
  auto* cmd = serve.add_subcommand(
      "cap-eval", "Measure context (C), accuracy (A) and performance (P) of KV policies");
  cmd->add_option("--model", a->model, "Model name or .gguf path");
  cmd->add_option("--lengths", a->lengths, "Sequence lengths, comma-separated")
      ->delimiter(',')
      ->check(CLI::Range(1, 1 << 22));
  cmd->add_option("--policy", a->policies,
                  "Policy NAME[:KNOB=V,...][+...] (repeat; same spelling as --kv); "
                  "full, streaming, h2o, quant, rope, offload");
  cmd->add_option("--passkey", a->passkey, "Passkey trials: auto (instruct models), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  cmd->add_option("--trials", a->trials, "Passkey trials per cell")->check(CLI::Range(1, 10000));
  cmd->add_option("--fidelity-tokens", a->fidelity_tokens,
                  "Last positions compared with full attention")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--decode-tokens", a->decode_tokens, "Greedy tokens decoded per cell")
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--chunk", a->chunk, "Prefill chunk in tokens")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--kv-budget-mib", a->budget_mib, "Resident KV budget per cache, MiB")
      ->check(CLI::Range(0.001, 1e7));
  cmd->add_option("--trained-ctx", a->trained_ctx,
                  "Trained context to assume (0 = the model file's)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 30));
  cmd->add_option("--out-json", a->out_json,
                  "Also write the JSON report to this file (rewritten after every cell)");
  add_common_flags(*cmd, a->common);
  cmd->callback([a] { run_cap_eval_cmd(*a); });
}

}  // namespace gearbox::apps
