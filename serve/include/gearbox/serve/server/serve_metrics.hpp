// The metrics the server exports on /metrics, registered once by name (vLLM's set, with the
// gearbox_ prefix): request and token counters, latency histograms, queue and KV gauges.
#pragma once

#include "gearbox/serve/server/metrics.hpp"

namespace gearbox::serve::server {

struct ServeMetrics {
  // Registers every series in `registry` (which must outlive this).
  explicit ServeMetrics(MetricsRegistry& registry);

  MetricsRegistry& registry;
  Counter& requests_stop;        // gearbox_requests_total{finish_reason="stop"}
  Counter& requests_length;      // ... "length"
  Counter& requests_cancelled;   // ... "cancelled" (client gone or server stopping)
  Counter& requests_error;       // ... "error" (the engine refused mid-way)
  Counter& rejected_queue_full;  // gearbox_requests_rejected_total{reason="queue_full"}
  Counter& rejected_invalid;     // ... "invalid" (any 4xx other than queue full)
  Counter& prompt_tokens;        // gearbox_prompt_tokens_total
  Counter& generation_tokens;    // gearbox_generation_tokens_total
  Counter& client_disconnects;   // gearbox_client_disconnects_total (hung up before the end)
  Histogram& ttft;               // gearbox_time_to_first_token_seconds
  Histogram& tpot;               // gearbox_time_per_output_token_seconds
  Histogram& e2e;                // gearbox_e2e_request_latency_seconds
  Gauge& queue_length;           // gearbox_requests_waiting
  Gauge& running;                // gearbox_requests_running
  Gauge& kv_blocks_in_use;       // gearbox_kv_blocks_in_use (resident blocks, every policy)
  Gauge& kv_blocks_free;         // gearbox_kv_blocks_free (free bytes in default-policy blocks)
  Gauge& kv_bytes_in_use;        // gearbox_kv_bytes_in_use (resident KV bytes, every policy)
  Gauge& kv_bytes_budget;        // gearbox_kv_bytes_budget (--kv-budget)
  Gauge& kv_bytes_peak;          // gearbox_kv_bytes_peak (most KV bytes held at once)
  Counter& preemptions;          // gearbox_preemptions_total (sequences preempted, recomputed)
  Gauge& kv_blocks_cached;       // gearbox_kv_blocks_cached (kept only by the prefix cache)
  Counter& prefix_queries;       // gearbox_prefix_cache_queries_total (prompt tokens looked up)
  Counter& prefix_hits;          // gearbox_prefix_cache_hits_total (of those, found cached)
};

}  // namespace gearbox::serve::server
