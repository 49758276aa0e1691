// Entry points of the .cu files in plain C++17 types (nvcc compiles the .cu files as C++17
// and cannot include the engine's C++20 headers). All launches are asynchronous on this
// thread's current stream (current_stream(): the default stream unless set_stream() chose
// another); each checks the launch and throws gearbox::Error::runtime on failure.
#pragma once

#include <cstddef>
#include <cstdint>

struct CUstream_st;  // cudaStream_t is CUstream_st*

namespace gearbox::gnn::cuda::detail {

// The stream this thread's launches go to (null: the default stream).
CUstream_st* current_stream();

// The CSR row pass and segment pass (see csr_launch.hpp for the shape's meaning).
struct CsrArgs {
  const std::int64_t* rowptr = nullptr;
  const std::int32_t* col = nullptr;
  const float* val = nullptr;
  std::int32_t rows = 0;
  int f = 0;
  int vec = 1, lanes = 32, chunks = 1, slabs = 1, rows_per_group = 1;
  std::int64_t cap = 0;
  const std::int32_t* seg_row = nullptr;  // segment pass: nseg segments
  const std::int64_t* seg_begin = nullptr;
  const std::int64_t* seg_end = nullptr;
  std::int64_t nseg = 0;
  const std::int32_t* long_rows = nullptr;  // rows whose epilogue runs after the segments
  std::int64_t nlong = 0;
};
void csr_spmm(const CsrArgs& a, const float* x, float* y, bool acc, const float* bias, bool relu);

// Column-compacted 16 x 8 tiles (tile_plan.hpp) on the tensor cores, TF32.
struct TileArgs {
  const std::int64_t* window_ptr = nullptr;
  const std::int32_t* tile_col = nullptr;
  const float* tile_val = nullptr;
  std::int32_t rows = 0, windows = 0;
};
void tile_spmm(const TileArgs& t, const float* x, int f, float* y, bool acc, const float* bias,
               bool relu);

// y = act(y + bias) on `rows` rows of width f (all rows, or the listed ones when `row_list`).
void epilogue(float* y, std::int64_t rows, int f, const float* bias, bool relu,
              const std::int32_t* row_list = nullptr);

// Zeroes rows [ranges[2i], ranges[2i+1]) of y for i < nranges.
void zero_ranges(float* y, const std::int32_t* ranges, int nranges, int f);

// out[i] = bf16(in[i]) (round to nearest even) for i < n; out holds n 16-bit values.
void to_bf16(const float* in, void* out, std::size_t n);

// out row i = in row rows[i] for i < n rows of width f (a row permutation's gather).
void gather_rows(const float* in, const std::int32_t* rows, std::int64_t n, int f, float* out);

// Throws Error::runtime naming `what` if the last launch failed.
void check_launch(const char* what);

}  // namespace gearbox::gnn::cuda::detail
