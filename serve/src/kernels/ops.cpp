#include "gearbox/serve/kernels/ops.hpp"

#include <cmath>

#include "gearbox/serve/kernels/fp16.hpp"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define GEARBOX_AVX2 1
#endif

#ifdef GEARBOX_AVX2
// glibc's vector tanhf (libmvec, AVX2 variant, 8 floats; within 1 to 2 ulp as its scalar one).
extern "C" __m256 _ZGVdN8v_tanhf(__m256 x);
#endif

namespace gearbox::serve {

float dot_f32(const float* a, const float* b, int n) {
  int i = 0;
  float s = 0;
#ifdef GEARBOX_AVX2
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8)
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  acc0 = _mm256_add_ps(acc0, acc1);
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc0), _mm256_extractf128_ps(acc0, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  s = _mm_cvtss_f32(h);
#endif
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

void rmsnorm(const float* x, const float* w, int n, float eps, float* out) {
  const float ss = dot_f32(x, x, n);
  const float scale = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (int i = 0; i < n; ++i) out[i] = x[i] * scale * w[i];
}

void rmsnorm_reference(const float* x, const float* w, int n, float eps, float* out) {
  double ss = 0;
  for (int i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const double scale = 1.0 / std::sqrt(ss / n + eps);
  for (int i = 0; i < n; ++i) out[i] = static_cast<float>(x[i] * scale * w[i]);
}

void swiglu(float* gate, const float* up, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void swiglu_reference(float* gate, const float* up, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const double g = gate[i];
    gate[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * up[i]);
  }
}

void geglu(float* gate, const float* up, std::size_t n) {
  constexpr float kC = 0.7978845608028654f;  // sqrt(2 / pi)
  std::size_t i = 0;
#ifdef GEARBOX_AVX2
  // Eight at a time through libmvec's tanhf: the scalar libm call was 14% of Gemma 3's prefill.
  const __m256 c = _mm256_set1_ps(kC), a = _mm256_set1_ps(0.044715f), one = _mm256_set1_ps(1.0f),
               half = _mm256_set1_ps(0.5f);
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 inner = _mm256_fmadd_ps(_mm256_mul_ps(a, g), g, one);
    const __m256 th = _ZGVdN8v_tanhf(_mm256_mul_ps(_mm256_mul_ps(c, g), inner));
    const __m256 gelu = _mm256_mul_ps(_mm256_mul_ps(half, g), _mm256_add_ps(one, th));
    _mm256_storeu_ps(gate + i, _mm256_mul_ps(gelu, _mm256_loadu_ps(up + i)));
  }
#endif
  for (; i < n; ++i) {
    const float g = gate[i];
    gate[i] = 0.5f * g * (1.0f + std::tanh(kC * g * (1.0f + 0.044715f * g * g))) * up[i];
  }
}

void geglu_f16(float* gate, const float* up, std::size_t n) {
  constexpr float kC = 0.7978845608028654f;
  for (std::size_t i = 0; i < n; ++i) {
    const float g = gate[i];
    float y;
    if (g <= -10.0f) {
      y = 0.0f;
    } else if (g >= 10.0f) {
      y = g;
    } else {
      const float h = fp16_to_float(float_to_fp16(g));
      y = fp16_to_float(
          float_to_fp16(0.5f * h * (1.0f + std::tanh(kC * h * (1.0f + 0.044715f * h * h)))));
    }
    gate[i] = y * up[i];
  }
}

void geglu_reference(float* gate, const float* up, std::size_t n) {
  const double c = std::sqrt(2.0 / 3.14159265358979323846);
  for (std::size_t i = 0; i < n; ++i) {
    const double g = gate[i];
    gate[i] =
        static_cast<float>(0.5 * g * (1.0 + std::tanh(c * (g + 0.044715 * g * g * g))) * up[i]);
  }
}

void softmax(float* x, int n) {
  if (n <= 0) return;
  // The maximum by comparison (NaNs skipped, as std::fmax does) rather than std::fmax, which
  // GCC leaves as a libm call per element (2% of decode time at 576 tokens of context).
  float mx = -INFINITY;
  for (int i = 0; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  float sum = 0;
  for (int i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (int i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace gearbox::serve
