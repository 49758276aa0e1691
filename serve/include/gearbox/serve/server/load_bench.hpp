// The load generator of `gearbox serve bench`: what vLLM's benchmark_serving measures, from
// the client side, against any OpenAI-compatible /v1/completions endpoint. Requests arrive as
// a Poisson process at `rate` (or all at once), at most `concurrency` in flight (a pool of
// that many threads; 0 means 256); prompts are
// token ids (or words, when the server does not say its vocabulary size or `text_prompts`)
// from a fixed-seed generator; each request streams and asks for exactly output_len tokens
// (min_tokens and ignore_eos). SSE comments (keep-alive pings) are skipped. A response over
// max_response_bytes, or still streaming after request_timeout_s, is cut and counts as failed;
// a /v1/models answer over 1 MiB is an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

namespace gearbox::serve::server {

struct LoadOptions {
  std::string url = "http://127.0.0.1:8080";  // http://HOST:PORT
  std::size_t requests = 100;
  double rate = std::numeric_limits<double>::infinity();  // requests per second
  std::size_t input_len = 128;
  std::size_t output_len = 128;
  std::size_t concurrency = 0;  // requests in flight at most; 0: 256
  double slo_ttft_ms = 0;       // 0: no SLO on TTFT
  double slo_tpot_ms = 0;       // 0: no SLO on TPOT
  std::uint64_t seed = 0;
  double request_timeout_s = 600;      // a whole response, first byte to last
  std::size_t max_response_bytes = 0;  // 0: 1 MiB + 16 KiB per output token
  bool text_prompts = false;           // input_len words, not token ids (same text for any server)
};

struct LatencyStats {
  double mean = 0, median = 0, p99 = 0;  // milliseconds
};

struct LoadReport {
  std::size_t completed = 0, failed = 0;
  double duration_s = 0;
  double request_throughput = 0;  // completed requests per second
  double output_tok_s = 0;        // generated tokens per second, over all requests
  double goodput = -1;            // requests per second meeting every SLO; -1 without SLOs
  LatencyStats ttft_ms, tpot_ms, itl_ms, e2e_ms;
  std::string first_error;  // what the first failed request saw ("" when none failed)
  std::string model;        // the served model
  // {"completed","failed","duration_s","request_throughput","output_tok_s","goodput",
  //  "ttft_ms","tpot_ms","itl_ms","e2e_ms"}: goodput null without SLOs.
  nlohmann::json to_json() const;
};

// Runs the load described by `opt`; progress lines go to `progress` when non-null. Throws
// Error::usage for a bad URL or options, Error::runtime when the server cannot be reached.
LoadReport run_load(const LoadOptions& opt, std::ostream* progress = nullptr);

// Parses "ttft=MS,tpot=MS" (either part optional) into opt's SLOs; throws Error::usage naming
// --slo on anything else.
void parse_slo(const std::string& spec, LoadOptions& opt);

}  // namespace gearbox::serve::server
