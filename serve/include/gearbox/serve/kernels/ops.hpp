// The element-wise and reduction kernels of a transformer layer, vectorised, each with a
// plain reference (the `_reference` functions) that tests compare them with.
#pragma once

#include <cstddef>

namespace gearbox::serve {

// out[i] = x[i] / sqrt(mean(x^2) + eps) * w[i], for one row of n values (out may be x).
void rmsnorm(const float* x, const float* w, int n, float eps, float* out);
void rmsnorm_reference(const float* x, const float* w, int n, float eps, float* out);

// gate[i] = silu(gate[i]) * up[i] (SwiGLU), n values.
void swiglu(float* gate, const float* up, std::size_t n);
void swiglu_reference(float* gate, const float* up, std::size_t n);

// In-place softmax of n values (max-subtracted for stability).
void softmax(float* x, int n);

// Dot product of n floats.
float dot_f32(const float* a, const float* b, int n);

}  // namespace gearbox::serve
