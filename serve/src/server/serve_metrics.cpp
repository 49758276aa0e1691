#include "gearbox/serve/server/serve_metrics.hpp"

namespace gearbox::serve::server {
namespace {

const std::vector<double> kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                             0.5,   1.0,    2.5,   5.0,  10.0,  30.0, 60.0};
const std::vector<double> kTpotBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.075,  0.1,   0.25,   0.5,   1.0,  2.5};

}  // namespace

ServeMetrics::ServeMetrics(MetricsRegistry& r)
    : registry(r),
      requests_stop(r.counter("gearbox_requests_total", "Finished requests by finish reason",
                              {{"finish_reason", "stop"}})),
      requests_length(r.counter("gearbox_requests_total", "Finished requests by finish reason",
                                {{"finish_reason", "length"}})),
      requests_cancelled(r.counter("gearbox_requests_total", "Finished requests by finish reason",
                                   {{"finish_reason", "cancelled"}})),
      requests_error(r.counter("gearbox_requests_total", "Finished requests by finish reason",
                               {{"finish_reason", "error"}})),
      rejected_queue_full(r.counter("gearbox_requests_rejected_total",
                                    "Requests refused before generation, by reason",
                                    {{"reason", "queue_full"}})),
      rejected_invalid(r.counter("gearbox_requests_rejected_total",
                                 "Requests refused before generation, by reason",
                                 {{"reason", "invalid"}})),
      prompt_tokens(r.counter("gearbox_prompt_tokens_total", "Prompt tokens prefilled")),
      generation_tokens(r.counter("gearbox_generation_tokens_total", "Tokens generated")),
      client_disconnects(r.counter("gearbox_client_disconnects_total",
                                   "Requests whose client hung up before the response ended")),
      ttft(r.histogram("gearbox_time_to_first_token_seconds",
                       "Time from arrival to the first generated token", kLatencyBuckets)),
      tpot(r.histogram("gearbox_time_per_output_token_seconds",
                       "Mean time per output token after the first, per request", kTpotBuckets)),
      e2e(r.histogram("gearbox_e2e_request_latency_seconds", "Time from arrival to the last token",
                      kLatencyBuckets)),
      queue_length(r.gauge("gearbox_requests_waiting", "Requests queued, not yet admitted")),
      running(r.gauge("gearbox_requests_running", "Sequences admitted (prefilling or decoding)")),
      kv_blocks_in_use(r.gauge("gearbox_kv_blocks_in_use", "Resident KV blocks held by sequences")),
      kv_blocks_free(
          r.gauge("gearbox_kv_blocks_free", "KV memory free, in blocks of the default policy")),
      kv_bytes_in_use(r.gauge("gearbox_kv_bytes_in_use", "Resident KV bytes of every policy")),
      kv_bytes_budget(r.gauge("gearbox_kv_bytes_budget", "KV memory budget in bytes")),
      kv_bytes_peak(r.gauge("gearbox_kv_bytes_peak",
                            "Most KV bytes held at once since start (resident and prefix-cached)")),
      preemptions(r.counter("gearbox_preemptions_total",
                            "Sequences preempted for KV memory (recomputed later)")),
      kv_blocks_cached(r.gauge("gearbox_kv_blocks_cached",
                               "KV blocks kept only by the prefix cache (freed when needed)")),
      prefix_queries(r.counter("gearbox_prefix_cache_queries_total",
                               "Prompt tokens looked up in the prefix cache")),
      prefix_hits(r.counter("gearbox_prefix_cache_hits_total",
                            "Prompt tokens found in the prefix cache")) {}

}  // namespace gearbox::serve::server
