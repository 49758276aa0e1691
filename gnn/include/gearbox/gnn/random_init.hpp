// Counter-based random numbers and weight initialisation shared by the CPU and CUDA trainers,
// so both draw bit-identical weights and dropout masks for one seed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace gearbox::gnn {

// Uniform in [0, 1) from (seed, stream, index); stateless, so masks can be drawn in parallel.
float counter_uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t i);

// `count` weights uniform in +-sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio), element i drawn
// from counter_uniform(seed, stream, i).
std::vector<float> glorot_uniform(std::size_t count, int fan_in, int fan_out, std::uint64_t seed,
                                  std::uint64_t stream);

}  // namespace gearbox::gnn
