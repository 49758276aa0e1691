#include "gearbox/core/stats.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "gearbox/core/error.hpp"

namespace gearbox {

TEST(Stats, PercentileInterpolatesLikeNumpy) {
  const std::vector<double> v{4, 1, 3, 2};  // sorted: 1 2 3 4
  EXPECT_DOUBLE_EQ(percentile(v, 0), 1.0);
  EXPECT_DOUBLE_EQ(percentile(v, 100), 4.0);
  EXPECT_DOUBLE_EQ(percentile(v, 50), 2.5);
  EXPECT_DOUBLE_EQ(percentile(v, 90), 3.7);  // numpy.percentile([1,2,3,4], 90) == 3.7
}

TEST(Stats, PercentileRejectsEmptyAndOutOfRange) {
  const std::vector<double> empty;
  EXPECT_THROW(percentile(empty, 50), Error);
  const std::vector<double> v{1};
  EXPECT_THROW(percentile(v, 101), Error);
  EXPECT_THROW(percentile(v, -1), Error);
}

TEST(Stats, SummaryOfKnownSample) {
  const std::vector<double> v{5, 1, 9, 3, 7};
  const Summary s = summarize(v);
  EXPECT_EQ(s.n, 5u);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 9);
  EXPECT_DOUBLE_EQ(s.mean, 5);
  EXPECT_DOUBLE_EQ(s.median, 5);
  EXPECT_NEAR(s.stddev, 3.16227766, 1e-8);  // sample stddev of 1,3,5,7,9
  EXPECT_DOUBLE_EQ(s.p10, 1.8);
}

TEST(Stats, MedianIsRobustToOneOutlier) {
  const std::vector<double> v{1.0, 1.1, 0.9, 1.0, 1000.0};
  EXPECT_DOUBLE_EQ(summarize(v).median, 1.0);
}

TEST(Stats, SummaryOfEmptyIsZero) {
  const Summary s = summarize(std::vector<double>{});
  EXPECT_EQ(s.n, 0u);
  EXPECT_EQ(s.median, 0.0);
}

TEST(Stats, MeasureRunsWarmupThenAtLeastMinReps) {
  int calls = 0;
  MeasureOptions opt;
  opt.warmup = 3;
  opt.min_reps = 7;
  opt.max_reps = 7;
  opt.min_seconds = 10;  // capped by max_reps
  const Summary s = measure([&] { ++calls; }, opt);
  EXPECT_EQ(calls, 10);
  EXPECT_EQ(s.n, 7u);
  EXPECT_GE(s.min, 0.0);
}

}  // namespace gearbox
