// Row-range inner loops shared by the CPU kernels (CSR, DCSR, panel): rows [r0, r1) of A X
// for one slice of the feature dimension, AVX-512 (16 floats, masked tails, software
// prefetch; two partial sums per vector so that short rows still keep enough FMAs in flight),
// AVX2/FMA (64-float slices with one sum per vector, narrower ones with two) or scalar.
// Internal to gearbox_gnn.
#pragma once

#include "gearbox/gnn/kernels.hpp"

namespace gearbox::gnn::detail {

// The widest slice rows_slice() takes in one pass: 8 AVX-512 vectors per row (16
// accumulators with the two partial sums).
inline constexpr int kRowSlice = 128;

// For each row r in [r0, r1): Y[yrow ? yrow[r] : r, j:j+w] (=|+=) A[r, :] X[:, j:j+w], with
// w <= kRowSlice. prefetch > 0 (AVX-512, and AVX2 in 64-float pieces): the X rows that many
// entries ahead are prefetched (into the next rows' entries too), into the cache `into` names
// (kAuto: resolve_prefetch_into(kAuto, w)). `simd` must be supported by this CPU.
void rows_slice(SimdLevel simd, const Csr& a, index_t r0, index_t r1, const float* x, int f,
                float* y, const index_t* yrow, bool acc, int j, int w, int prefetch,
                PrefetchInto into = PrefetchInto::kAuto);

// rows_slice() over the whole width, kRowSlice floats at a time.
void rows_full(SimdLevel simd, const Csr& a, index_t r0, index_t r1, const float* x, int f,
               float* y, const index_t* yrow, bool acc, int prefetch,
               PrefetchInto into = PrefetchInto::kAuto);

}  // namespace gearbox::gnn::detail
