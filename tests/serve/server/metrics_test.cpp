// Prometheus registry and text exposition.
#include "gearbox/serve/server/metrics.hpp"

#include <gtest/gtest.h>

#include "gearbox/core/error.hpp"
#include "gearbox/serve/server/serve_metrics.hpp"

namespace gearbox::serve::server {
namespace {

TEST(Metrics, CountersGaugesAndLabels) {
  MetricsRegistry r;
  auto& a = r.counter("x_total", "help x", {{"k", "a"}});
  auto& b = r.counter("x_total", "help x", {{"k", "b\"q"}});
  a.inc();
  a.inc(2);
  a.inc(-5);  // ignored
  b.inc();
  EXPECT_EQ(&a, &r.counter("x_total", "help x", {{"k", "a"}}));
  r.gauge("g", "a gauge").set(7);
  const std::string text = r.exposition();
  EXPECT_NE(text.find("# HELP x_total help x\n# TYPE x_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("x_total{k=\"a\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_total{k=\"b\\\"q\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE g gauge\ng 7\n"), std::string::npos) << text;
  EXPECT_THROW(r.gauge("x_total", "again"), Error);
  EXPECT_THROW(r.gauge("1bad", "name"), Error);
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  MetricsRegistry r;
  auto& h = r.histogram("lat_seconds", "latency", {0.1, 1.0});
  for (double v : {0.05, 0.1, 0.5, 2.0, 3.0}) h.observe(v);
  const auto s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{2, 3, 5}));
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.sum, 5.65);
  const std::string text = r.exposition();
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"0.10000000000000001\"} 2\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"+Inf\"} 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_count 5\n"), std::string::npos) << text;
  EXPECT_THROW(Histogram({1.0, 1.0}), Error);
}

TEST(Metrics, ServeMetricsExportTheNamedSeries) {
  MetricsRegistry r;
  ServeMetrics m(r);
  m.requests_stop.inc();
  m.kv_blocks_free.set(12);
  m.ttft.observe(0.2);
  const std::string text = r.exposition();
  for (const char* name :
       {"gearbox_requests_total{finish_reason=\"stop\"} 1", "gearbox_prompt_tokens_total 0",
        "gearbox_generation_tokens_total 0", "gearbox_time_to_first_token_seconds_count 1",
        "gearbox_time_per_output_token_seconds_count 0",
        "gearbox_e2e_request_latency_seconds_count 0", "gearbox_requests_waiting 0",
        "gearbox_requests_running 0", "gearbox_kv_blocks_in_use 0", "gearbox_kv_blocks_free 12"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace gearbox::serve::server
