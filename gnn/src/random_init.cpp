#include "gearbox/gnn/random_init.hpp"

#include <cmath>

namespace gearbox::gnn {

namespace {
std::uint64_t hash64(std::uint64_t x) {  // splitmix64's finaliser
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
}  // namespace

float counter_uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t i) {
  return static_cast<float>(
             hash64(seed * 0x9e3779b97f4a7c15ull + stream * 0xd1b54a32d192ed03ull + i) >> 40) *
         0x1.0p-24f;
}

std::vector<float> glorot_uniform(std::size_t count, int fan_in, int fan_out, std::uint64_t seed,
                                  std::uint64_t stream) {
  std::vector<float> w(count);
  const float lim = std::sqrt(6.0f / static_cast<float>(fan_in + fan_out));
  for (std::size_t i = 0; i < count; ++i) w[i] = (2 * counter_uniform(seed, stream, i) - 1) * lim;
  return w;
}

}  // namespace gearbox::gnn
