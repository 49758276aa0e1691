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

// gate[i] = gelu_tanh(gate[i]) * up[i] (GeGLU with GELU's tanh approximation, Gemma),
// n values: gelu_tanh(x) = x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3))).
void geglu(float* gate, const float* up, std::size_t n);
void geglu_reference(float* gate, const float* up, std::size_t n);
// As geglu, with GELU read through fp16 as llama.cpp's CPU table does: the input rounded to
// fp16, GELU of it rounded to fp16 (inputs <= -10 give 0, >= 10 pass through).
void geglu_f16(float* gate, const float* up, std::size_t n);

// In-place softmax of n values (max-subtracted for stability).
void softmax(float* x, int n);

// Dot product of n floats.
float dot_f32(const float* a, const float* b, int n);

}  // namespace gearbox::serve
