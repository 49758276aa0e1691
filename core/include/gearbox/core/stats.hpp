// Robust statistics over repeated measurements: min, median, percentiles, mean, stddev.
// Timing helpers run a callable after warm-up and summarise the repetitions.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <span>
#include <vector>

namespace gearbox {

struct Summary {
  std::size_t n = 0;
  double min = 0, max = 0, mean = 0, stddev = 0;
  double median = 0, p10 = 0, p90 = 0, p99 = 0;
};

// Percentile q in [0, 100] of `values` by linear interpolation between order statistics
// (the "type 7" definition used by numpy). Throws Error::usage on empty input or q outside.
double percentile(std::span<const double> values, double q);

// Summary of `values`; all fields 0 when empty.
Summary summarize(std::span<const double> values);

// Monotonic stopwatch in seconds.
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  void reset() { start_ = std::chrono::steady_clock::now(); }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  double ms() const { return seconds() * 1e3; }

 private:
  std::chrono::steady_clock::time_point start_;
};

struct MeasureOptions {
  int warmup = 2;            // runs discarded before measuring
  int min_reps = 5;          // at least this many measured runs
  int max_reps = 1000;       // at most this many
  double min_seconds = 0.2;  // keep repeating until this much measured time has passed
};

// Runs fn warmup times, then repeatedly per `opt`; returns the summary of per-run seconds.
Summary measure(const std::function<void()>& fn, const MeasureOptions& opt = {});

// Seconds one run of fn took, timed by the caller's clock (a device's events, say).
using RunTimer = std::function<double(const std::function<void()>& fn)>;
// measure() with each run timed by `timer` instead of the host stopwatch.
Summary measure(const std::function<void()>& fn, const MeasureOptions& opt, const RunTimer& timer);

}  // namespace gearbox
