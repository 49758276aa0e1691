// `gearbox serve run` (the OpenAI-compatible server) and `gearbox serve bench` (its load
// generator).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gearbox/core/cli.hpp"
#include "gearbox/core/error.hpp"
#include "gearbox/core/input_file.hpp"
#include "gearbox/core/output.hpp"
#include "gearbox/serve/server/engine_runner.hpp"
#include "gearbox/serve/server/http_server.hpp"
#include "gearbox/serve/server/load_bench.hpp"
#include "gearbox/serve/tokenizer/tokenizer.hpp"
#include "serve_commands.hpp"

namespace gearbox::apps {

namespace {

struct RunArgs {
  CommonOptions common;
  std::string model = "stories260K";
  std::string host = "127.0.0.1";
  int port = 8080;
  std::size_t parallel = 8;
  std::string kv_budget = "1G";
  std::size_t max_queue = 64;
  std::size_t prefill_chunk = 128;
  std::size_t max_model_len = 0;
  std::size_t max_tokens = 0;
  bool no_prefix_cache = false;
  std::string kv_admission = "ondemand";
  std::string cap;
  std::string chat_template;       // --chat-template NAME (a built-in one)
  std::string chat_template_file;  // --chat-template-file PATH (a Jinja template)
  bool seed_given = false;         // --seed: per-request seeds derive from it (else random)
};

struct BenchArgs {
  CommonOptions common;
  std::string url = "http://127.0.0.1:8080";
  std::size_t requests = 100;
  std::string rate = "inf";
  std::size_t input_len = 128;
  std::size_t output_len = 128;
  std::size_t concurrency = 0;
  std::string slo;
  bool text_prompts = false;
};

// The largest --max-queue: every waiting request holds a thread (8 MiB of address space).
constexpr std::size_t kMaxQueue = 16384;

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) {
  g_stop.store(true);
}

// "1073741824", "512M", "2G", "64K" -> bytes.
std::size_t parse_bytes(const std::string& s) {
  auto bad = [&] {
    return Error::usage("bad --kv-budget").field("kv-budget").expected("BYTES[K|M|G]").found(s);
  };
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::logic_error&) {
    throw bad();
  }
  double mult = 1;
  if (used + 1 == s.size()) {
    switch (s.back()) {
      case 'K':
      case 'k':
        mult = 1024.0;
        break;
      case 'M':
      case 'm':
        mult = 1024.0 * 1024;
        break;
      case 'G':
      case 'g':
        mult = 1024.0 * 1024 * 1024;
        break;
      default:
        throw bad();
    }
  } else if (used != s.size()) {
    throw bad();
  }
  const double bytes = v * mult;
  if (!(bytes >= 1) || bytes > 1e15) throw bad();
  return static_cast<std::size_t>(bytes);
}

// libgomp reads OMP_WAIT_POLICY once, when the program starts. Its default keeps the threads
// of a team spinning after each parallel region, which on a busy machine starves the server's
// HTTP threads and stalls the team itself (2 loaded cores, 64 streaming clients on stories260K:
// 142 output tok/s spinning, 1393 passive; docs/serve-server.md). So `serve run` executes
// itself again, once, with OMP_WAIT_POLICY=passive unless the user chose a policy. If that
// fails it goes on as it is.
void prefer_passive_openmp_waits() {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (std::size_t at = 0; at < all.size();) {
    const std::size_t end = std::min(all.find('\0', at), all.size());
    args.push_back(all.substr(at, end - at));
    at = end + 1;
  }
  if (args.empty()) return;
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  if (::setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
  ::execv("/proc/self/exe", argv.data());
}

// Longest chat template file read (the GGUFs' own templates are a few KiB).
constexpr std::uint64_t kMaxChatTemplateBytes = 1 << 20;

// The chat template `serve run` is told to use instead of the file's ("" = the file's): a
// built-in name as given, or a template file's text, refused (Error::input naming the file)
// when it is not a regular file of at most 1 MiB or not of a family we render.
std::string chat_template_override(const RunArgs& a) {
  if (a.chat_template_file.empty()) return a.chat_template;
  std::string text = read_input_file(a.chat_template_file, kMaxChatTemplateBytes);
  if (!serve::is_renderable_chat_template(text)) {
    std::string names;
    for (const auto& n : serve::builtin_chat_template_names())
      names += (names.empty() ? "" : ", ") + n;
    throw Error::input(a.chat_template_file +
                       ": chat template of an unknown family (expected the markers of ChatML, "
                       "Llama-2, Llama-3 or Gemma, or one of the names " +
                       names + ")")
        .field("chat-template-file")
        .found(printable(text, 60));
  }
  return text;
}

void run_server(const RunArgs& a) {
  prefer_passive_openmp_waits();
  serve::server::EngineRunnerOptions eo;
  eo.chat_template = chat_template_override(a);
  eo.default_cap = a.cap;
  eo.kv_budget_bytes = parse_bytes(a.kv_budget);
  eo.threads = a.common.threads;
  eo.prefix_cache = !a.no_prefix_cache;
  auto runner = serve::server::EngineRunner::load(a.model, eo);
  serve::server::ServerOptions so;
  so.host = a.host;
  so.port = a.port;
  so.scheduler.max_running = a.parallel;
  so.scheduler.max_queue = a.max_queue;
  so.scheduler.prefill_chunk = a.prefill_chunk;
  so.scheduler.max_model_len = a.max_model_len;
  so.scheduler.default_max_tokens = a.max_tokens;
  so.scheduler.admission = a.kv_admission == "reserve" ? serve::server::KvAdmission::kReserve
                                                       : serve::server::KvAdmission::kOnDemand;
  if (a.seed_given) so.seed = a.common.seed;
  serve::server::ApiServer server(*runner, so);
  const int port = server.start();
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  std::cerr << "gearbox: serving " << server.model_name() << " on http://" << a.host << ":" << port
            << " (parallel " << a.parallel << ", queue " << a.max_queue << ", KV budget "
            << a.kv_budget << " " << a.kv_admission << ", policy "
            << (a.cap.empty() ? "full" : a.cap) << "); Ctrl-C stops" << std::endl;
  while (!g_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::cerr << "gearbox: stopping" << std::endl;
  server.stop();
}

void run_bench(const BenchArgs& a) {
  serve::server::LoadOptions o;
  o.url = a.url;
  o.requests = a.requests;
  if (a.rate == "inf") {
    o.rate = std::numeric_limits<double>::infinity();
  } else {
    try {
      std::size_t used = 0;
      o.rate = std::stod(a.rate, &used);
      if (used != a.rate.size() || !(o.rate > 0) || !std::isfinite(o.rate))
        throw std::logic_error("");
    } catch (const std::logic_error&) {
      throw Error::usage("bad --rate")
          .field("rate")
          .expected("requests/s > 0, or inf")
          .found(a.rate);
    }
  }
  o.input_len = a.input_len;
  o.output_len = a.output_len;
  o.concurrency = a.concurrency;
  o.text_prompts = a.text_prompts;
  o.seed = a.common.seed;
  if (!a.slo.empty()) serve::server::parse_slo(a.slo, o);
  const auto rep = serve::server::run_load(o, &std::cerr);
  if (a.common.json) {
    write_json(std::cout, rep.to_json());
    return;
  }
  std::cout << "model " << rep.model << ", " << a.requests << " requests, rate " << a.rate
            << "/s, input " << a.input_len << ", output " << a.output_len << ", concurrency "
            << (a.concurrency ? std::to_string(a.concurrency) : std::string("256 (default)"))
            << "\n";
  std::cout << "completed " << rep.completed << ", failed " << rep.failed << ", duration "
            << fmt_num(rep.duration_s, 2) << " s\n";
  if (!rep.first_error.empty()) std::cout << "first failure: " << rep.first_error << "\n";
  std::cout << "request throughput " << fmt_num(rep.request_throughput, 2) << " req/s, output "
            << fmt_num(rep.output_tok_s, 1) << " tok/s";
  if (rep.goodput >= 0) std::cout << ", goodput " << fmt_num(rep.goodput, 2) << " req/s";
  std::cout << "\n";
  TextTable t({"ms", "mean", "median", "p99"});
  auto row = [&](const char* name, const serve::server::LatencyStats& s) {
    t.add_row({name, fmt_num(s.mean, 2), fmt_num(s.median, 2), fmt_num(s.p99, 2)});
  };
  row("TTFT", rep.ttft_ms);
  row("TPOT", rep.tpot_ms);
  row("ITL", rep.itl_ms);
  row("E2E", rep.e2e_ms);
  t.print(std::cout);
}

}  // namespace

void register_serve_server_commands(CLI::App& serve) {
  auto r = std::make_shared<RunArgs>();
  auto* run =
      serve.add_subcommand("run", "Serve a model over the OpenAI API (continuous batching)");
  run->add_option("--model", r->model, "Model name or .gguf path");
  run->add_option("--host", r->host, "Address to listen on");
  run->add_option("--port", r->port, "Port (0 = any free one)")->check(CLI::Range(0, 65535));
  run->add_option("--parallel", r->parallel, "Sequences decoded together")
      ->check(CLI::Range(1, 4096));
  run->add_option("--kv-budget", r->kv_budget, "KV cache budget in bytes (suffix K, M, G)");
  // Each running or waiting request holds an HTTP thread: the queue is bounded by what a
  // system gives, and a refused thread is a clear error (exit 2), never an abort.
  run->add_option("--max-queue", r->max_queue,
                  "Requests waiting beyond --parallel (then 429); one thread each")
      ->check(CLI::Range(std::size_t{1}, kMaxQueue));
  run->add_option("--prefill-chunk", r->prefill_chunk, "Prompt tokens prefilled per step")
      ->check(CLI::Range(1, 1 << 20));
  run->add_option("--max-model-len", r->max_model_len,
                  "Longest sequence a request may ask for (0 = trained context x RoPE factor)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 30));
  run->add_option("--max-tokens", r->max_tokens,
                  "Tokens generated without max_tokens under evicting policies (0 = max-model-len)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 30));
  run->add_flag("--no-prefix-cache", r->no_prefix_cache,
                "Turn automatic prefix caching off (full, quant and rope policies)");
  run->add_option("--kv-admission", r->kv_admission,
                  "ondemand: admit on a request's prompt and preempt when KV runs out; reserve: "
                  "admit on its worst case (prompt + max tokens), never preempting (the baseline)")
      ->check(CLI::IsMember({"ondemand", "reserve"}));
  run->add_option("--cap", r->cap, "Default long-context policy (e.g. streaming:window=1024)");
  auto* tmpl = run->add_option("--chat-template", r->chat_template,
                               "Built-in chat template used instead of the model file's")
                   ->check(CLI::IsMember(serve::builtin_chat_template_names()));
  run->add_option("--chat-template-file", r->chat_template_file,
                  "Jinja chat template file (ChatML, Llama-2/3 or Gemma family) used instead of "
                  "the model file's")
      ->excludes(tmpl);
  add_threads_seed_flags(*run, r->common);  // --seed: base of the per-request seeds
  run->callback([r, run] {
    r->seed_given = run->count("--seed") > 0;
    run_server(*r);
  });

  auto b = std::make_shared<BenchArgs>();
  auto* bench = serve.add_subcommand("bench", "Load-test an OpenAI-compatible server");
  bench->add_option("--url", b->url, "Server, http://HOST:PORT");
  bench->add_option("--requests", b->requests, "Requests to send")->check(CLI::Range(1, 1000000));
  bench->add_option("--rate", b->rate, "Poisson arrival rate, requests/s, or inf");
  bench->add_option("--input-len", b->input_len, "Prompt tokens")->check(CLI::Range(1, 1 << 20));
  bench->add_option("--output-len", b->output_len, "Tokens generated per request")
      ->check(CLI::Range(1, 1 << 20));
  bench->add_option("--concurrency", b->concurrency, "Requests in flight at most (0 = 256)")
      ->check(CLI::Range(0, 4096));
  bench->add_option("--slo", b->slo, "Goodput SLOs, ttft=MS,tpot=MS");
  bench->add_flag("--text-prompts", b->text_prompts,
                  "Prompts of --input-len words, not token ids (for servers that take no ids)");
  add_common_flags(*bench, b->common);
  bench->callback([b] { run_bench(*b); });
}

}  // namespace gearbox::apps
