// Synthetic traces for scale tests (see trace.hpp).
#include <algorithm>
#include <cmath>
#include <random>

#include "gearbox/sched/trace.hpp"

namespace gearbox::sched {

namespace {
// Uniform in [0, 1) from 53 random bits: the same sequence on every platform.
double unit(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}
}  // namespace

Trace synthetic_trace(const SyntheticSpec& spec, const ModelCatalog& models) {
  std::mt19937_64 rng(spec.seed * 0x9E3779B97F4A7C15ULL + 12345);
  struct Choice {
    ModelRef m;
    int batch;
    double weight;
  };
  std::vector<Choice> mix;
  double total = 0;
  for (int f = 0; f < static_cast<int>(models.families().size()); ++f) {
    const auto& fam = models.family(f);
    // The four smallest sizes of each family: those the profile database covers well.
    for (int s = 0; s < std::min<int>(4, static_cast<int>(fam.sizes.size())); ++s) {
      for (std::size_t b = 0; b < fam.batch_sizes.size() && b < 2; ++b) {
        const double w = 1.0 / (1 + s);  // smaller models are more common
        mix.push_back({{f, s}, fam.batch_sizes[b], w});
        total += w;
      }
    }
  }
  static const int kCounts[] = {1, 2, 4, 8, 16};
  static const double kCountWeights[] = {0.25, 0.25, 0.25, 0.15, 0.10};
  static const char* kTypes[] = {"a100", "v100", "a40", "a10"};
  Trace t;
  t.name = "synthetic";
  double now = 0;
  const double mean_gap = 3600.0 / spec.rate_per_hour;
  for (int i = 0; i < spec.jobs; ++i) {
    now += -std::log(1.0 - unit(rng)) * mean_gap;
    Job j;
    j.id = "syn-" + std::to_string(i);
    double r = unit(rng) * total;
    std::size_t k = 0;
    while (k + 1 < mix.size() && r >= mix[k].weight) r -= mix[k++].weight;
    j.model = mix[k].m;
    j.batch = mix[k].batch;
    double c = unit(rng);
    int ci = 0;
    while (ci < 4 && c >= kCountWeights[ci]) c -= kCountWeights[ci++];
    // Larger models need more GPUs to fit: at least 2^(size index) (1 GPU for the smallest).
    j.req_gpus = std::max(kCounts[ci], 1 << j.model.size);
    j.req_type = kTypes[rng() % 4];
    j.iterations =
        static_cast<std::int64_t>(std::exp(std::log(200.0) + unit(rng) * std::log(20.0)));
    j.submit = std::floor(now);
    j.deadline = j.submit + static_cast<double>(j.iterations) * (0.2 + 0.8 * unit(rng));
    t.jobs.push_back(std::move(j));
  }
  assign_rounds(t);
  return t;
}

}  // namespace gearbox::sched
