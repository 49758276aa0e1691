#include "gearbox/core/stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "gearbox/core/error.hpp"

namespace gearbox {

namespace {
double sorted_percentile(const std::vector<double>& s, double q) {
  const double pos = q / 100.0 * static_cast<double>(s.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, s.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return s[lo] + (s[hi] - s[lo]) * frac;
}
}  // namespace

double percentile(std::span<const double> values, double q) {
  if (values.empty()) throw Error::usage("percentile of an empty sample");
  if (!(q >= 0.0 && q <= 100.0)) {
    throw Error::usage("percentile out of range").expected("0..100").found(std::to_string(q));
  }
  std::vector<double> s(values.begin(), values.end());
  std::sort(s.begin(), s.end());
  return sorted_percentile(s, q);
}

Summary summarize(std::span<const double> values) {
  Summary r;
  r.n = values.size();
  if (values.empty()) return r;
  std::vector<double> s(values.begin(), values.end());
  std::sort(s.begin(), s.end());
  r.min = s.front();
  r.max = s.back();
  r.mean = std::accumulate(s.begin(), s.end(), 0.0) / static_cast<double>(s.size());
  double var = 0;
  for (double v : s) var += (v - r.mean) * (v - r.mean);
  r.stddev = s.size() > 1 ? std::sqrt(var / static_cast<double>(s.size() - 1)) : 0.0;
  r.median = sorted_percentile(s, 50);
  r.p10 = sorted_percentile(s, 10);
  r.p90 = sorted_percentile(s, 90);
  r.p99 = sorted_percentile(s, 99);
  return r;
}

Summary measure(const std::function<void()>& fn, const MeasureOptions& opt) {
  return measure(fn, opt, [](const std::function<void()>& run) {
    Stopwatch sw;
    run();
    return sw.seconds();
  });
}

Summary measure(const std::function<void()>& fn, const MeasureOptions& opt, const RunTimer& timer) {
  for (int i = 0; i < opt.warmup; ++i) fn();
  std::vector<double> times;
  double total = 0;
  while (static_cast<int>(times.size()) < opt.max_reps &&
         (static_cast<int>(times.size()) < opt.min_reps || total < opt.min_seconds)) {
    const double t = timer(fn);
    times.push_back(t);
    total += t;
  }
  return summarize(times);
}

}  // namespace gearbox
