#include "gearbox/serve/kernels/matmul.hpp"

#include <omp.h>

#include <algorithm>
#include <cstring>

#include "gearbox/core/error.hpp"
#include "gearbox/serve/gguf/gguf_file.hpp"
#include "gearbox/serve/kernels/fp16.hpp"
#include "gearbox/serve/kernels/kquant.hpp"
#include "gearbox/serve/kernels/ops.hpp"
#include "kquant_q8k.hpp"
#include "simd_q8.hpp"

namespace gearbox::serve {

namespace {

// Rows per group of the 16-row kernels' activation layout (kPairTokens there).
constexpr int kGroupRows = 16;

// Which 8-bit activation format a weight type multiplies with (0: floats; 256: Q8_K).
constexpr int kFmtQ8K = 256;
int act_format(TensorType t) {
  switch (t) {
    case TensorType::kQ4_K:
    case TensorType::kQ6_K:
      return kFmtQ8K;
    case TensorType::kQ4_0:
    case TensorType::kQ5_0:
    case TensorType::kQ8_0:
      return 80;
    case TensorType::kQ4_1:
    case TensorType::kQ5_1:
      return 81;
    default:
      return 0;
  }
}

constexpr std::size_t kQ8_0Bytes = 34, kQ8_1Bytes = 36;

// ---- scalar block dot products (the arithmetic of the fast path, one block at a time) ----

float dot_q4_0_q8_0_scalar(const std::uint8_t* w, const std::uint8_t* x, int nb) {
  float acc = 0;
  for (int b = 0; b < nb; ++b, w += 18, x += kQ8_0Bytes) {
    int s = 0;
    for (int j = 0; j < 16; ++j) {
      s += ((w[2 + j] & 0xF) - 8) * static_cast<std::int8_t>(x[2 + j]);
      s += ((w[2 + j] >> 4) - 8) * static_cast<std::int8_t>(x[2 + 16 + j]);
    }
    acc += fp16_to_float(load_u16(w)) * fp16_to_float(load_u16(x)) * static_cast<float>(s);
  }
  return acc;
}

float dot_q4_1_q8_1_scalar(const std::uint8_t* w, const std::uint8_t* x, int nb) {
  float acc = 0;
  for (int b = 0; b < nb; ++b, w += 20, x += kQ8_1Bytes) {
    int s = 0;
    for (int j = 0; j < 16; ++j) {
      s += (w[4 + j] & 0xF) * static_cast<std::int8_t>(x[4 + j]);
      s += (w[4 + j] >> 4) * static_cast<std::int8_t>(x[4 + 16 + j]);
    }
    acc += fp16_to_float(load_u16(w)) * fp16_to_float(load_u16(x)) * static_cast<float>(s) +
           fp16_to_float(load_u16(w + 2)) * fp16_to_float(load_u16(x + 2));
  }
  return acc;
}

// The 5-bit value j (0..31) of a Q5_0/Q5_1 block: low nibble from qs, fifth bit from qh.
inline int q5_value(const std::uint8_t* qs, std::uint32_t qh, int j) {
  const int nib = j < 16 ? (qs[j] & 0xF) : (qs[j - 16] >> 4);
  return nib | static_cast<int>(((qh >> j) & 1) << 4);
}

float dot_q5_0_q8_0_scalar(const std::uint8_t* w, const std::uint8_t* x, int nb) {
  float acc = 0;
  for (int b = 0; b < nb; ++b, w += 22, x += kQ8_0Bytes) {
    std::uint32_t qh;
    std::memcpy(&qh, w + 2, 4);
    int s = 0;
    for (int j = 0; j < 32; ++j)
      s += (q5_value(w + 6, qh, j) - 16) * static_cast<std::int8_t>(x[2 + j]);
    acc += fp16_to_float(load_u16(w)) * fp16_to_float(load_u16(x)) * static_cast<float>(s);
  }
  return acc;
}

float dot_q5_1_q8_1_scalar(const std::uint8_t* w, const std::uint8_t* x, int nb) {
  float acc = 0;
  for (int b = 0; b < nb; ++b, w += 24, x += kQ8_1Bytes) {
    std::uint32_t qh;
    std::memcpy(&qh, w + 4, 4);
    int s = 0;
    for (int j = 0; j < 32; ++j) s += q5_value(w + 8, qh, j) * static_cast<std::int8_t>(x[4 + j]);
    acc += fp16_to_float(load_u16(w)) * fp16_to_float(load_u16(x)) * static_cast<float>(s) +
           fp16_to_float(load_u16(w + 2)) * fp16_to_float(load_u16(x + 2));
  }
  return acc;
}

float dot_q8_0_q8_0_scalar(const std::uint8_t* w, const std::uint8_t* x, int nb) {
  float acc = 0;
  for (int b = 0; b < nb; ++b, w += 34, x += kQ8_0Bytes) {
    int s = 0;
    for (int j = 0; j < 32; ++j)
      s += static_cast<std::int8_t>(w[2 + j]) * static_cast<std::int8_t>(x[2 + j]);
    acc += fp16_to_float(load_u16(w)) * fp16_to_float(load_u16(x)) * static_cast<float>(s);
  }
  return acc;
}

[[maybe_unused]] float dot_f16_f32_scalar(const std::uint8_t* w, const float* x, int n) {
  float acc = 0;
  for (int i = 0; i < n; ++i) acc += fp16_to_float(load_u16(w + 2 * i)) * x[i];
  return acc;
}

float dot_bf16_f32_scalar(const std::uint8_t* w, const float* x, int n) {
  float acc = 0;
  for (int i = 0; i < n; ++i) acc += bf16_to_float(load_u16(w + 2 * i)) * x[i];
  return acc;
}

#ifdef GEARBOX_AVX2
// ---- AVX2 block dot products: weights unpacked and multiplied in registers ----

using namespace simd;

// The signed 32 values of a Q4_0 / Q8_0 block (Q5_0's below).
inline __m256i q4_0_values(const std::uint8_t* w) {
  return _mm256_sub_epi8(nibbles(w + 2), _mm256_set1_epi8(8));
}
inline __m256i q8_0_values(const std::uint8_t* w) {
  return load32(w + 2);
}

// One weight row of a signed format with Q8_0 activations (Q4_0, Q5_0, Q8_0) against N
// activation rows (row t at x + t * xstride, its block scales at xd + t * d_stride): each weight
// block is unpacked once for the N rows.
template <int N, __m256i (*Values)(const std::uint8_t*), std::size_t kBytes>
void dot_signed_q8_0(const std::uint8_t* w, const std::uint8_t* x, std::size_t xstride,
                     const float* xd, std::size_t d_stride, int nb, float* out) {
  __m256 acc[N];
  for (int t = 0; t < N; ++t) acc[t] = _mm256_setzero_ps();
  for (int b = 0; b < nb; ++b, w += kBytes) {
    if constexpr (N == 1) prefetch_ahead(w);
    const __m256i q = Values(w);
    const __m256i aq = _mm256_sign_epi8(q, q);
    const float dw = f16(w);
    const std::size_t o = static_cast<std::size_t>(b) * kQ8_0Bytes + 2;
    for (int t = 0; t < N; ++t)
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * xd[t * d_stride + static_cast<std::size_t>(b)]),
                               mul_sum_abs_i8(q, aq, load32(x + t * xstride + o)), acc[t]);
  }
  for (int t = 0; t < N; ++t) out[t] = hsum(acc[t]);
}

float dot_q4_1_q8_1(const std::uint8_t* w, const std::uint8_t* x, const float* xds, int nb) {
  __m256 acc = _mm256_setzero_ps();
  float summs = 0;
  for (int b = 0; b < nb; ++b, w += 20, x += kQ8_1Bytes) {
    summs += f16(w + 2) * xds[2 * b + 1];
    const __m256 d = _mm256_set1_ps(f16(w) * xds[2 * b]);
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 4));
    acc = _mm256_fmadd_ps(d, mul_sum_u8_i8(nibbles(w + 4), y), acc);
  }
  return hsum(acc) + summs;
}

// Four activation rows against one Q4_1 weight row: the weights are unpacked once per block.
void dot_q4_1_q8_1_x4(const std::uint8_t* w, const std::uint8_t* x, std::size_t xstride,
                      const float* xds, std::size_t ds_stride, int nb, float* out) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const std::uint8_t *x0 = x, *x1 = x + xstride, *x2 = x + 2 * xstride, *x3 = x + 3 * xstride;
  for (int b = 0; b < nb; ++b, w += 20) {
    const std::size_t o = static_cast<std::size_t>(b) * kQ8_1Bytes;
    const float dw = f16(w), mw = f16(w + 2);
    const __m256i q = nibbles(w + 4);
    auto step = [&](const std::uint8_t* xb, const float* ds, __m256& acc, float& s) {
      s += mw * ds[1];
      const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 4));
      acc = _mm256_fmadd_ps(_mm256_set1_ps(dw * ds[0]), mul_sum_u8_i8(q, y), acc);
    };
    const float* ds = xds + 2 * static_cast<std::size_t>(b);
    step(x0 + o, ds, acc0, s0);
    step(x1 + o, ds + ds_stride, acc1, s1);
    step(x2 + o, ds + 2 * ds_stride, acc2, s2);
    step(x3 + o, ds + 3 * ds_stride, acc3, s3);
  }
  out[0] = hsum(acc0) + s0;
  out[1] = hsum(acc1) + s1;
  out[2] = hsum(acc2) + s2;
  out[3] = hsum(acc3) + s3;
}

// 32 values 0..31 of a Q5 block: nibbles of qs, plus 16 where bit j of the 32-bit qh is set.
inline __m256i q5_values(const std::uint8_t* qs, const std::uint8_t* qh_bytes) {
  std::uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  // Byte j of the register gets byte j / 8 of qh, then keeps only its bit j % 8.
  const __m256i spread =
      _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(qh)),
                          _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                           2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
  return _mm256_or_si256(nibbles(qs), _mm256_and_si256(set, _mm256_set1_epi8(0x10)));
}

inline __m256i q5_0_values(const std::uint8_t* w) {
  return _mm256_sub_epi8(q5_values(w + 6, w + 2), _mm256_set1_epi8(16));
}

float dot_q5_1_q8_1(const std::uint8_t* w, const std::uint8_t* x, const float* xds, int nb) {
  __m256 acc = _mm256_setzero_ps();
  float summs = 0;
  for (int b = 0; b < nb; ++b, w += 24, x += kQ8_1Bytes) {
    summs += f16(w + 2) * xds[2 * b + 1];
    const __m256 d = _mm256_set1_ps(f16(w) * xds[2 * b]);
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 4));
    acc = _mm256_fmadd_ps(d, mul_sum_u8_i8(q5_values(w + 8, w + 4), y), acc);
  }
  return hsum(acc) + summs;
}

// A kernel of N activation rows at once: weights, activations, their scales and strides, the
// number of 32-value blocks, the N results.
using DotRows = void (*)(const std::uint8_t* w, const std::uint8_t* x, std::size_t xstride,
                         const float* xs, std::size_t xs_stride, int nb, float* out);

// The N-row kernel of a weight type (nullptr: none; only Q4_1 lacks the one-row form here).
template <int N>
DotRows dot_rows(TensorType type) {
  switch (type) {
    case TensorType::kQ4_0:
      return dot_signed_q8_0<N, q4_0_values, 18>;
    case TensorType::kQ5_0:
      return dot_signed_q8_0<N, q5_0_values, 22>;
    case TensorType::kQ8_0:
      return dot_signed_q8_0<N, q8_0_values, 34>;
    case TensorType::kQ4_1:
      if constexpr (N == 4) return dot_q4_1_q8_1_x4;
      return nullptr;
    case TensorType::kQ4_K:  // Q8_K activations only in one-row products (plan_product)
      if constexpr (N == 1) return dot_q4_k_q8_k_rows<1>;
      return nullptr;
    case TensorType::kQ6_K:
      if constexpr (N == 1) return dot_q6_k_q8_k_rows<1>;
      return nullptr;
    default:
      return nullptr;
  }
}

float dot_f16_f32(const std::uint8_t* w, const float* x, int n) {
  __m256 acc = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 wv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * i)));
    acc = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + i), acc);
  }
  float s = hsum(acc);
  for (; i < n; ++i) s += fp16_to_float(load_u16(w + 2 * i)) * x[i];
  return s;
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && \
    defined(__AVX512VNNI__)
#define GEARBOX_AVX512_PAIRS 1
// GCC 12's AVX-512 headers fill "undefined" registers that its own warnings then flag
// (GCC bug 105593); nothing here reads an uninitialised value.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
// Kernels on two activation rows per 512-bit register (Activations' q8_0_groups() and
// float_pairs()), kPairs pairs per pass over a weight row: the low 256 bits of each accumulator are
// exactly the 256-bit accumulator of the kernels above for the even row, the high 256 bits for the
// odd row (same lanes, same products, same order of sums), so the results equal theirs bit for bit.
constexpr int kPairs = 8, kPairTokens = 2 * kPairs;

inline void store_pair(__m512 acc, float* out) {
  out[0] = hsum(_mm512_castps512_ps256(acc));
  out[1] = hsum(_mm512_extractf32x8_ps(acc, 1));
}

static_assert(kPairTokens == kGroupRows);

// dot_signed_q8_0 for the kPairTokens activation rows of one group of Activations'
// q8_0_groups() layout (g: the group's first block; gb: its bias sums), against kW weight rows
// at once (row i at w + i * row_bytes); out[i * kPairTokens + t] for weight row i and row t of
// the group. The weights enter as unsigned values u = q + bias (UValues), each 32-bit lane
// starting from -bias times its four activations' sum, so every lane ends at exactly the sum
// of q * x that the sign trick of dot_signed_q8_0 gives (Q8_0 activations lie in -127..127):
// the same lanes, then the same float arithmetic, so the results equal its bit for bit. The
// activations no longer depend on the weights' signs, so each load of them serves kW rows.
template <int kW, __m256i (*UValues)(const std::uint8_t*), std::size_t kBytes>
void dot_unsigned_q8_0_group(const std::uint8_t* w, std::size_t row_bytes, const std::uint8_t* g,
                             const std::int32_t* gb, int nb, float* out) {
  __m512 acc[kW][kPairs];
  for (int i = 0; i < kW; ++i)
    for (int p = 0; p < kPairs; ++p) acc[i][p] = _mm512_setzero_ps();
  for (int b = 0; b < nb; ++b, w += kBytes, g += kPairs * 128, gb += kPairs * 16) {
    __m512i u[kW];
    __m512 dw[kW];
    for (int i = 0; i < kW; ++i) {
      u[i] = _mm512_broadcast_i64x4(UValues(w + i * row_bytes));
      dw[i] = _mm512_set1_ps(f16(w + i * row_bytes));
    }
    for (int p = 0; p < kPairs; ++p) {
      const __m512i x = _mm512_loadu_si512(g + p * 128);
      const __m512i start = _mm512_loadu_si512(gb + p * 16);
      const __m512 xs = _mm512_loadu_ps(g + p * 128 + 64);
      for (int i = 0; i < kW; ++i) {
        const __m512 s = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start, u[i], x));
        acc[i][p] = _mm512_fmadd_ps(_mm512_mul_ps(dw[i], xs), s, acc[i][p]);
      }
    }
  }
  for (int i = 0; i < kW; ++i)
    for (int p = 0; p < kPairs; ++p) store_pair(acc[i][p], out + i * kPairTokens + 2 * p);
}

// The unsigned values of a block (signed value + the type's bias).
inline __m256i q4_0_unsigned(const std::uint8_t* w) {
  return nibbles(w + 2);
}
inline __m256i q5_0_unsigned(const std::uint8_t* w) {
  return q5_values(w + 6, w + 2);
}
inline __m256i q8_0_unsigned(const std::uint8_t* w) {
  return _mm256_xor_si256(load32(w + 2), _mm256_set1_epi8(static_cast<char>(0x80)));
}

using DotGroup = void (*)(const std::uint8_t* w, std::size_t row_bytes, const std::uint8_t* g,
                          const std::int32_t* gb, int nb, float* out);

// The 16-row kernels of a weight type on two weight rows and on one, and the bias of its
// unsigned values (false: none).
bool dot_group(TensorType type, DotGroup& two, DotGroup& one, int& bias) {
  switch (type) {
    case TensorType::kQ4_0:
      bias = 8;
      two = dot_unsigned_q8_0_group<2, q4_0_unsigned, 18>;
      one = dot_unsigned_q8_0_group<1, q4_0_unsigned, 18>;
      return true;
    case TensorType::kQ5_0:
      bias = 16;
      two = dot_unsigned_q8_0_group<2, q5_0_unsigned, 22>;
      one = dot_unsigned_q8_0_group<1, q5_0_unsigned, 22>;
      return true;
    case TensorType::kQ8_0:
      bias = 128;
      two = dot_unsigned_q8_0_group<2, q8_0_unsigned, 34>;
      one = dot_unsigned_q8_0_group<1, q8_0_unsigned, 34>;
      return true;
    default:
      return false;
  }
}

// dot_unpacked_k (dot_f32 per super-block of an unpacked K-quant row, summed in order) of
// `nrows` unpacked rows (w, row r at w + r * cols) with kPairTokens activation rows in
// float_pairs layout (pair p at xp + p * pair_floats): out[r * kPairTokens + t]. Super-blocks
// outermost, so one super-block of the group's activations (16 KB) stays in L1 across the rows.
void dot_unpacked_k_pairs(const float* w, int nrows, const float* xp, std::size_t pair_floats,
                          int cols, float* out) {
  std::fill_n(out, static_cast<std::size_t>(nrows) * kPairTokens, 0.0f);
  for (int b = 0; b < cols / kQkK; ++b) {
    const std::size_t ob = static_cast<std::size_t>(b) * kQkK * 2;
    for (int r = 0; r < nrows; ++r) {
      __m512 acc0[kPairs], acc1[kPairs];
      for (int p = 0; p < kPairs; ++p) acc0[p] = acc1[p] = _mm512_setzero_ps();
      const float* wb = w + static_cast<std::size_t>(r) * cols + b * kQkK;
      for (int i = 0; i < kQkK; i += 16) {  // dot_f32's two accumulators: chunks i and i + 8
        const __m512 w0 = _mm512_broadcast_f32x8(_mm256_loadu_ps(wb + i));
        const __m512 w1 = _mm512_broadcast_f32x8(_mm256_loadu_ps(wb + i + 8));
        for (int p = 0; p < kPairs; ++p) {
          const float* x = xp + p * pair_floats + ob + 2 * static_cast<std::size_t>(i);
          acc0[p] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x), acc0[p]);
          acc1[p] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + 16), acc1[p]);
        }
      }
      float* o = out + static_cast<std::size_t>(r) * kPairTokens;
      for (int p = 0; p < kPairs; ++p) {
        float s[2];
        store_pair(_mm512_add_ps(acc0[p], acc1[p]), s);
        o[2 * p] += s[0];
        o[2 * p + 1] += s[1];
      }
    }
  }
}
#pragma GCC diagnostic pop
#endif
#endif

// One weight row r against activation row t (fast path).
inline float row_dot(const WeightMatrix& w, int r, const std::uint8_t* q,
                     [[maybe_unused]] const float* qs, const float* xf, int cols) {
  const std::uint8_t* wr = w.data + static_cast<std::size_t>(r) * w.row_bytes;
  const int nb = cols / 32;
  switch (w.type) {
#ifdef GEARBOX_AVX2
    // Q4_0, Q5_0, Q8_0, Q4_K and Q6_K: dot_rows<1> (product_tile).
    case TensorType::kQ4_1:
      return dot_q4_1_q8_1(wr, q, qs, nb);
    case TensorType::kQ5_1:
      return dot_q5_1_q8_1(wr, q, qs, nb);
    case TensorType::kF16:
      return dot_f16_f32(wr, xf, cols);
#else
    case TensorType::kQ4_0:
      return dot_q4_0_q8_0_scalar(wr, q, nb);
    case TensorType::kQ4_1:
      return dot_q4_1_q8_1_scalar(wr, q, nb);
    case TensorType::kQ8_0:
      return dot_q8_0_q8_0_scalar(wr, q, nb);
    case TensorType::kQ5_0:
      return dot_q5_0_q8_0_scalar(wr, q, nb);
    case TensorType::kQ5_1:
      return dot_q5_1_q8_1_scalar(wr, q, nb);
    case TensorType::kF16:
      return dot_f16_f32_scalar(wr, xf, cols);
#endif
    case TensorType::kQ4_K:  // with Q8_K activations (dot_rows<1> under AVX2)
      return dot_q4_k_q8_k_scalar(wr, q, cols);
    case TensorType::kQ6_K:
      return dot_q6_k_q8_k_scalar(wr, q, cols);
    case TensorType::kQ5_K:
      return dot_q5_k_f32(wr, xf, cols);
    case TensorType::kQ3_K:
      return dot_q3_k_f32(wr, xf, cols);
    case TensorType::kQ2_K:
      return dot_q2_k_f32(wr, xf, cols);
    case TensorType::kF32:
      return dot_f32(reinterpret_cast<const float*>(wr), xf, cols);
    case TensorType::kBF16:
      return dot_bf16_f32_scalar(wr, xf, cols);
    default:
      return 0;
  }
}

}  // namespace

WeightMatrix weight_matrix(const GgufTensor& t) {
  if (t.dims.size() > 2 && t.n_rows() != t.dims[1])
    throw Error::input("weight tensor is not 2-D").field(t.name);
  switch (t.type()) {
    case TensorType::kF32:
    case TensorType::kF16:
    case TensorType::kBF16:
    case TensorType::kQ4_0:
    case TensorType::kQ4_1:
    case TensorType::kQ8_0:
    case TensorType::kQ5_0:
    case TensorType::kQ5_1:
    case TensorType::kQ2_K:
    case TensorType::kQ3_K:
    case TensorType::kQ4_K:
    case TensorType::kQ5_K:
    case TensorType::kQ6_K:
      break;
    default:
      throw Error::input("tensor type not supported by the matrix kernels")
          .field(t.name)
          .expected("f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q2_k..q6_k")
          .found(tensor_type_name(t.type_id));
  }
  if (t.row_len() > (1u << 20) || t.n_rows() > (1u << 24))
    throw Error::input("weight matrix too large").field(t.name);
  WeightMatrix w;
  w.type = t.type();
  w.data = t.data;
  w.cols = static_cast<int>(t.row_len());
  w.rows = static_cast<int>(t.n_rows());
  w.row_bytes = tensor_bytes(w.type, static_cast<std::size_t>(w.cols));
  return w;
}

// Activation layouts of at least this many rows (a prefill batch) are made on all threads; a
// decode step's few rows stay on the caller's (a fork/join would cost more than they do).
constexpr int kParallelActivationRows = 32;

const std::uint8_t* Activations::q8_0() {
  if (q8_0_.empty()) {
    const std::size_t rb = static_cast<std::size_t>(cols_ / 32) * kQ8_0Bytes;
    q8_0_.resize(rb * static_cast<std::size_t>(n_));
#pragma omp parallel for if (n_ >= kParallelActivationRows) schedule(static)
    for (int t = 0; t < n_; ++t)
      quantize_row_q8_0(x_ + static_cast<std::size_t>(t) * cols_, q8_0_.data() + rb * t, cols_);
    const std::size_t nb = static_cast<std::size_t>(cols_ / 32) * static_cast<std::size_t>(n_);
    q8_0_scales_.resize(nb);
    for (std::size_t b = 0; b < nb; ++b)
      q8_0_scales_[b] = fp16_to_float(load_u16(q8_0_.data() + b * kQ8_0Bytes));
  }
  return q8_0_.data();
}

const std::uint8_t* Activations::q8_k() {
  if (q8_k_.empty()) {
    const std::size_t rb = static_cast<std::size_t>(cols_ / kQkK) * kQ8KBytes;
    q8_k_.resize(rb * static_cast<std::size_t>(n_));
#pragma omp parallel for if (n_ >= kParallelActivationRows) schedule(static)
    for (int t = 0; t < n_; ++t)
      quantize_row_q8_k(x_ + static_cast<std::size_t>(t) * cols_, q8_k_.data() + rb * t, cols_);
  }
  return q8_k_.data();
}

const std::uint8_t* Activations::q8_0_groups() {
  if (q8_0_groups_.empty() && n_ >= kGroupRows) {
    const std::uint8_t* q = q8_0();
    const std::size_t nb = static_cast<std::size_t>(cols_ / 32), groups = n_ / kGroupRows;
    q8_0_groups_.resize(groups * nb * (kGroupRows / 2) * 128);
#pragma omp parallel for if (groups >= 2) schedule(static)
    for (std::size_t g = 0; g < groups; ++g)
      for (std::size_t b = 0; b < nb; ++b)
        for (std::size_t p = 0; p < kGroupRows / 2; ++p) {
          std::uint8_t* dst = q8_0_groups_.data() + ((g * nb + b) * (kGroupRows / 2) + p) * 128;
          float scales[16];
          for (std::size_t h = 0; h < 2; ++h) {
            const std::size_t src = (g * kGroupRows + 2 * p + h) * nb + b;
            std::memcpy(dst + 32 * h, q + src * kQ8_0Bytes + 2, 32);
            std::fill_n(scales + 8 * h, 8, q8_0_scales_[src]);
          }
          std::memcpy(dst + 64, scales, sizeof scales);
        }
  }
  return q8_0_groups_.data();
}

const std::int32_t* Activations::q8_0_group_bias_sums(int bias) {
  const int slot = bias == 8 ? 0 : bias == 16 ? 1 : bias == 128 ? 2 : -1;
  if (slot < 0) throw Error::usage("q8_0_group_bias_sums: bias must be 8, 16 or 128");
  std::vector<std::int32_t>& sums = group_bias_sums_[slot];
  if (sums.empty() && n_ >= kGroupRows) {
    const std::uint8_t* gq = q8_0_groups();
    const std::size_t units = q8_0_groups_.size() / 128;  // (group, block, pair)
    sums.resize(units * 16);
#pragma omp parallel for if (units >= 1024) schedule(static)
    for (std::size_t u = 0; u < units; ++u)
      for (std::size_t l = 0; l < 16; ++l) {
        const auto* x = reinterpret_cast<const std::int8_t*>(gq + u * 128 + 4 * l);
        sums[u * 16 + l] = -bias * (x[0] + x[1] + x[2] + x[3]);
      }
  }
  return sums.data();
}

const float* Activations::float_pairs() {
  if (float_pairs_.empty() && n_ >= 2) {
    const std::size_t chunks = static_cast<std::size_t>(cols_ / 8), pairs = n_ / 2;
    float_pairs_.resize(pairs * chunks * 16);
#pragma omp parallel for if (pairs >= kParallelActivationRows / 2) schedule(static)
    for (std::size_t p = 0; p < pairs; ++p)
      for (std::size_t c = 0; c < chunks; ++c)
        for (std::size_t h = 0; h < 2; ++h)
          std::memcpy(float_pairs_.data() + (p * chunks + c) * 16 + 8 * h,
                      x_ + (2 * p + h) * static_cast<std::size_t>(cols_) + 8 * c,
                      8 * sizeof(float));
  }
  return float_pairs_.data();
}

const std::uint8_t* Activations::q8_1() {
  if (q8_1_.empty()) {
    const std::size_t rb = static_cast<std::size_t>(cols_ / 32) * kQ8_1Bytes;
    q8_1_.resize(rb * static_cast<std::size_t>(n_));
#pragma omp parallel for if (n_ >= kParallelActivationRows) schedule(static)
    for (int t = 0; t < n_; ++t)
      quantize_row_q8_1(x_ + static_cast<std::size_t>(t) * cols_, q8_1_.data() + rb * t, cols_);
    const std::size_t nb = static_cast<std::size_t>(cols_ / 32) * static_cast<std::size_t>(n_);
    q8_1_scales_.resize(2 * nb);
    for (std::size_t b = 0; b < nb; ++b) {
      q8_1_scales_[2 * b] = fp16_to_float(load_u16(q8_1_.data() + b * kQ8_1Bytes));
      q8_1_scales_[2 * b + 1] = fp16_to_float(load_u16(q8_1_.data() + b * kQ8_1Bytes + 2));
    }
  }
  return q8_1_.data();
}

namespace {

constexpr int kRowTile = 16;

bool is_float_type(TensorType t) {
  return t == TensorType::kF32 || t == TensorType::kF16 || t == TensorType::kBF16;
}

bool is_k_quant(TensorType t) {
  return t == TensorType::kQ2_K || t == TensorType::kQ3_K || t == TensorType::kQ4_K ||
         t == TensorType::kQ5_K || t == TensorType::kQ6_K;
}

// A K-quant row already unpacked to floats times x, summed per super-block in the order of
// dot_q*_k_f32 (so the result is theirs, bit for bit).
float dot_unpacked_k(const float* w, const float* x, int cols) {
  float acc = 0;
  for (int b = 0; b < cols / kQkK; ++b) acc += dot_f32(w + b * kQkK, x + b * kQkK, kQkK);
  return acc;
}

// What the row tiles of one product need: the weights, the activations in the weights'
// 8-bit format (or floats), and the output.
struct ProductPlan {
  const WeightMatrix* w;
  float* y;
  const std::uint8_t* q;
  const float* qs;
  std::size_t qs_row, qrow;
  int tiles;
#ifdef GEARBOX_AVX2
  DotRows dot1, dot4;  // the weight type's one- and four-row kernels (nullptr: none)
#endif
#ifdef GEARBOX_AVX512_PAIRS
  DotGroup dotg2, dotg1;  // the type's kernels on groups of 16 Q8_0 rows (nullptr: none)
  const std::uint8_t* qg;
  const std::int32_t* qgb;  // the groups' bias sums for the kernels' bias
  const float* xfp;         // float pairs (batched K-quant products)
#endif
};

ProductPlan plan_product(const WeightMatrix& w, Activations& x, float* y) {
  if (x.cols() != w.cols) throw Error::usage("matmul: activation width does not match the weights");
  const int cols = w.cols;
  // Q4_K/Q6_K: Q8_K activations (llama.cpp's arithmetic) for one activation row (decode);
  // batched products (prefill, perplexity) keep float activations, whose perplexity on the
  // test text stays within 1% of llama.cpp's where Q8_K's does not (docs/serve-engine-bench.md).
  int fmt = act_format(w.type);
  if (fmt == kFmtQ8K && x.n() > 1) fmt = 0;
  ProductPlan p;
  p.w = &w;
  p.y = y;
  p.q = fmt == 80 ? x.q8_0() : fmt == 81 ? x.q8_1() : fmt == kFmtQ8K ? x.q8_k() : nullptr;
  p.qs = fmt == 80 ? x.q8_0_scales() : fmt == 81 ? x.q8_1_scales() : nullptr;
  p.qs_row = fmt == 80 || fmt == 81 ? static_cast<std::size_t>(cols / 32) * (fmt == 81 ? 2 : 1) : 0;
  p.qrow = fmt == 80        ? static_cast<std::size_t>(cols / 32) * kQ8_0Bytes
           : fmt == kFmtQ8K ? static_cast<std::size_t>(cols / kQkK) * kQ8KBytes
                            : static_cast<std::size_t>(cols / 32) * kQ8_1Bytes;
  p.tiles = (w.rows + kRowTile - 1) / kRowTile;
#ifdef GEARBOX_AVX2
  p.dot1 = dot_rows<1>(w.type);
  p.dot4 = dot_rows<4>(w.type);
#endif
#ifdef GEARBOX_AVX512_PAIRS
  const bool pairs = x.n() >= kPairTokens;
  int bias = 0;
  p.dotg2 = p.dotg1 = nullptr;
  const bool grouped = pairs && fmt == 80 && dot_group(w.type, p.dotg2, p.dotg1, bias);
  p.qg = grouped ? x.q8_0_groups() : nullptr;
  p.qgb = grouped ? x.q8_0_group_bias_sums(bias) : nullptr;
  p.xfp = pairs && is_k_quant(w.type) && !p.q ? x.float_pairs() : nullptr;
#endif
  return p;
}

// Rows [tile * kRowTile, +kRowTile) of the product for every activation row.
void product_tile(const ProductPlan& p, const float* xf, int n, int tile) {
  const WeightMatrix& w = *p.w;
  const int rows = w.rows, cols = w.cols;
  const std::uint8_t* q = p.q;
  const float* qs = p.qs;
  const std::size_t qs_row = p.qs_row, qrow = p.qrow;
  float* y = p.y;
  const int r0 = tile * kRowTile, r1 = std::min(rows, r0 + kRowTile);
  if (is_k_quant(w.type) && !q && n > 1) {
    // Batched K-quant product on float activations (Q2_K, Q3_K, Q5_K): the tile's rows are unpacked
    // to floats once (not once per activation row), then every activation row meets them; the same
    // sums as row_dot's.
    thread_local std::vector<float> unpacked;
    unpacked.resize(static_cast<std::size_t>(kRowTile) * cols);
    for (int r = r0; r < r1; ++r)
      dequantize_row(w.type, w.data + static_cast<std::size_t>(r) * w.row_bytes,
                     unpacked.data() + static_cast<std::size_t>(r - r0) * cols, cols);
    int t0 = 0;
#ifdef GEARBOX_AVX512_PAIRS
    if (p.xfp) {
      const std::size_t pair_floats = static_cast<std::size_t>(cols) * 2;
      float out[kRowTile * kPairTokens];
      for (; t0 + kPairTokens <= n; t0 += kPairTokens) {
        dot_unpacked_k_pairs(unpacked.data(), r1 - r0,
                             p.xfp + static_cast<std::size_t>(t0 / 2) * pair_floats, pair_floats,
                             cols, out);
        for (int r = r0; r < r1; ++r)
          for (int k = 0; k < kPairTokens; ++k)
            y[static_cast<std::size_t>(t0 + k) * rows + r] = out[(r - r0) * kPairTokens + k];
      }
    }
#endif
    for (int t = t0; t < n; ++t)
      for (int r = r0; r < r1; ++r)
        y[static_cast<std::size_t>(t) * rows + r] =
            dot_unpacked_k(unpacked.data() + static_cast<std::size_t>(r - r0) * cols,
                           xf + static_cast<std::size_t>(t) * cols, cols);
    return;
  }
  int t0 = 0;
#ifdef GEARBOX_AVX512_PAIRS
  if (p.dotg2) {
    // Groups of kPairTokens activation rows against the tile's weight rows two at a time (the
    // last one alone), the group's activations staying in L1 across the tile's rows.
    const int nb = cols / 32;
    const std::size_t group_bytes = static_cast<std::size_t>(nb) * kPairs * 128,
                      group_sums = static_cast<std::size_t>(nb) * kPairs * 16;
    float out[2 * kPairTokens];
    for (; t0 + kPairTokens <= n; t0 += kPairTokens) {
      const std::size_t g = static_cast<std::size_t>(t0 / kPairTokens);
      const std::uint8_t* gq = p.qg + g * group_bytes;
      const std::int32_t* gs = p.qgb + g * group_sums;
      for (int r = r0; r < r1; r += 2) {
        const int k = std::min(2, r1 - r);
        (k == 2 ? p.dotg2 : p.dotg1)(w.data + static_cast<std::size_t>(r) * w.row_bytes,
                                     w.row_bytes, gq, gs, nb, out);
        for (int i = 0; i < k; ++i)
          for (int t = 0; t < kPairTokens; ++t)
            y[static_cast<std::size_t>(t0 + t) * rows + r + i] = out[i * kPairTokens + t];
      }
    }
  }
#endif
  for (int r = r0; r < r1; ++r) {
    int t = t0;
#ifdef GEARBOX_AVX2
    // Four activation rows per pass over the weight row where the type has the kernel (each
    // block unpacked once for four), then one at a time: same arithmetic per row either way.
    const std::uint8_t* wr = w.data + static_cast<std::size_t>(r) * w.row_bytes;
    float out[4];
    if (p.dot4)
      for (; t + 4 <= n; t += 4) {
        p.dot4(wr, q + qrow * t, qrow, qs + qs_row * t, qs_row, cols / 32, out);
        for (int k = 0; k < 4; ++k) y[static_cast<std::size_t>(t + k) * rows + r] = out[k];
      }
    if (p.dot1)
      for (; t < n; ++t) {
        p.dot1(wr, q + qrow * t, 0, qs + qs_row * t, 0, cols / 32, out);
        y[static_cast<std::size_t>(t) * rows + r] = out[0];
      }
#endif
    for (; t < n; ++t)
      y[static_cast<std::size_t>(t) * rows + r] =
          row_dot(w, r, q ? q + qrow * t : nullptr, qs ? qs + qs_row * t : nullptr,
                  xf + static_cast<std::size_t>(t) * cols, cols);
  }
}

}  // namespace

void matmul(const WeightMatrix& w, Activations& x, float* y) {
  const MatmulJob job{&w, y};
  matmul_many(std::span<const MatmulJob>(&job, 1), x);
}

void matmul_many(std::span<const MatmulJob> jobs, Activations& x) {
  // Plans (and the activation quantization they trigger) are made before the threads start.
  constexpr std::size_t kMaxJobs = 8;
  if (jobs.size() > kMaxJobs) throw Error::usage("matmul_many: more than 8 products");
  ProductPlan plans[kMaxJobs];
  int first_tile[kMaxJobs + 1] = {0};
  std::size_t n_tiled = 0;
  for (const MatmulJob& job : jobs) {
    if (x.cols() != job.w->cols)
      throw Error::usage("matmul: activation width does not match the weights");
    // Float weights in a batch of enough rows: sgemm (see matmul_sgemm for why not the others).
    if (is_float_type(job.w->type) && x.n() > 1 && x.n() >= sgemm_min_rows()) {
      matmul_sgemm(*job.w, x.data(), x.n(), job.y);
      continue;
    }
    plans[n_tiled] = plan_product(*job.w, x, job.y);
    first_tile[n_tiled + 1] = first_tile[n_tiled] + plans[n_tiled].tiles;
    ++n_tiled;
  }
  const int total = first_tile[n_tiled];
  if (total == 0) return;
  const float* xf = x.data();
  const int n = x.n();
  // One parallel region for all the products: one fork/join instead of one per product.
  // Dynamic chunks of about 1/8 of a thread's share: a thread slowed by other work on its core
  // (or given costlier tiles) leaves its last chunks to the others instead of holding them up.
  const int chunk = std::max(1, total / (8 * omp_get_max_threads()));
#pragma omp parallel for schedule(dynamic, chunk)
  for (int g = 0; g < total; ++g) {
    int j = 0;
    while (g >= first_tile[j + 1]) ++j;
    product_tile(plans[j], xf, n, g - first_tile[j]);
  }
}

void matmul_reference(const WeightMatrix& w, const float* x, int n, float* y) {
  std::vector<float> row(static_cast<std::size_t>(w.cols));
  for (int r = 0; r < w.rows; ++r) {
    dequantize_row(w.type, w.data + static_cast<std::size_t>(r) * w.row_bytes, row.data(), w.cols);
    for (int t = 0; t < n; ++t) {
      double s = 0;
      for (int c = 0; c < w.cols; ++c)
        s += static_cast<double>(row[static_cast<std::size_t>(c)]) *
             x[static_cast<std::size_t>(t) * w.cols + c];
      y[static_cast<std::size_t>(t) * w.rows + r] = static_cast<float>(s);
    }
  }
}

void matmul_reference_q8(const WeightMatrix& w, const float* x, int n, float* y) {
  const int fmt = act_format(w.type);
  if (fmt == 0) {
    matmul_reference(w, x, n, y);
    return;
  }
  const int nb = w.cols / 32;
  const std::size_t qrow =
      fmt == kFmtQ8K ? static_cast<std::size_t>(w.cols / kQkK) * kQ8KBytes
                     : static_cast<std::size_t>(nb) * (fmt == 80 ? kQ8_0Bytes : kQ8_1Bytes);
  std::vector<std::uint8_t> q(qrow);
  for (int t = 0; t < n; ++t) {
    const float* xr = x + static_cast<std::size_t>(t) * w.cols;
    if (fmt == 80)
      quantize_row_q8_0(xr, q.data(), w.cols);
    else if (fmt == 81)
      quantize_row_q8_1(xr, q.data(), w.cols);
    else
      quantize_row_q8_k(xr, q.data(), w.cols);
    for (int r = 0; r < w.rows; ++r) {
      const std::uint8_t* wr = w.data + static_cast<std::size_t>(r) * w.row_bytes;
      float v = 0;
      if (w.type == TensorType::kQ4_K)
        v = dot_q4_k_q8_k_scalar(wr, q.data(), w.cols);
      else if (w.type == TensorType::kQ6_K)
        v = dot_q6_k_q8_k_scalar(wr, q.data(), w.cols);
      else if (w.type == TensorType::kQ4_0)
        v = dot_q4_0_q8_0_scalar(wr, q.data(), nb);
      else if (w.type == TensorType::kQ4_1)
        v = dot_q4_1_q8_1_scalar(wr, q.data(), nb);
      else if (w.type == TensorType::kQ5_0)
        v = dot_q5_0_q8_0_scalar(wr, q.data(), nb);
      else if (w.type == TensorType::kQ5_1)
        v = dot_q5_1_q8_1_scalar(wr, q.data(), nb);
      else
        v = dot_q8_0_q8_0_scalar(wr, q.data(), nb);
      y[static_cast<std::size_t>(t) * w.rows + r] = v;
    }
  }
}

}  // namespace gearbox::serve
