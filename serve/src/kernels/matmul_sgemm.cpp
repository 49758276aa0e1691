// Batched products through OpenBLAS's sgemm on weights dequantized a panel at a time
// (matmul.hpp: matmul_sgemm).
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "gearbox/serve/kernels/matmul.hpp"

namespace gearbox::serve {

namespace {

// About 1 MiB of floats per panel: half the 2 MiB L2 of the CPUs this was tuned on, so the
// freshly dequantized rows are still in L2 when sgemm packs them.
constexpr std::size_t kPanelBytes = std::size_t{1} << 20;
constexpr int kPanelAlign = 16;

int round_up(int v, int m) {
  return (v + m - 1) / m * m;
}

// Rows per panel for `parts` panels at least (one per thread), within kPanelBytes.
int panel_rows(int rows, int cols, int parts) {
  const int fit =
      std::max(kPanelAlign, static_cast<int>(kPanelBytes / (static_cast<std::size_t>(cols) * 4)) /
                                kPanelAlign * kPanelAlign);
  const int split = round_up((rows + parts - 1) / parts, kPanelAlign);
  return std::min(fit, split);
}

// y[:, r0 : r0 + pr] = x * panel^T, with panel the rows [r0, r0 + pr) of w as floats (in `buf`
// unless w is F32, whose rows are used in place).
void panel_product(const WeightMatrix& w, const float* x, int n, float* y, int r0, int pr,
                   std::vector<float>& buf) {
  const int cols = w.cols;
  const float* p = nullptr;
  if (w.type == TensorType::kF32) {
    p = reinterpret_cast<const float*>(w.data + static_cast<std::size_t>(r0) * w.row_bytes);
  } else {
    buf.resize(static_cast<std::size_t>(pr) * cols);
    for (int r = 0; r < pr; ++r)
      dequantize_row(w.type, w.data + static_cast<std::size_t>(r0 + r) * w.row_bytes,
                     buf.data() + static_cast<std::size_t>(r) * cols, cols);
    p = buf.data();
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, pr, cols, 1.0f, x, cols, p, cols, 0.0f,
              y + r0, w.rows);
}

}  // namespace

int sgemm_min_rows() {
  static const int v = [] {
    if (const char* s = std::getenv("GEARBOX_SGEMM_MIN_ROWS")) return std::atoi(s);
    return kSgemmMinRowsDefault;
  }();
  return v;
}

void matmul_sgemm(const WeightMatrix& w, const float* x, int n, float* y) {
  if (n <= 0 || w.rows <= 0) return;
  static const bool blas_threads = [] {
    const char* s = std::getenv("GEARBOX_SGEMM_THREADS");
    return s != nullptr && std::strcmp(s, "blas") == 0;
  }();
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (blas_threads || threads == 1) {
    // Panels in turn, each multiplied by sgemm with OpenBLAS's own threads.
    thread_local std::vector<float> buf;
    const int pr = panel_rows(w.rows, w.cols, 1);
    for (int r0 = 0; r0 < w.rows; r0 += pr)
      panel_product(w, x, n, y, r0, std::min(pr, w.rows - r0), buf);
    return;
  }
  // Panels split across our threads, each dequantizing its own and calling sgemm on one thread
  // (OpenBLAS's OpenMP build runs single-threaded inside a parallel region).
  const int pr = panel_rows(w.rows, w.cols, threads);
  const int panels = (w.rows + pr - 1) / pr;
#pragma omp parallel for schedule(dynamic, 1)
  for (int i = 0; i < panels; ++i) {
    thread_local std::vector<float> buf;
    const int r0 = i * pr;
    panel_product(w, x, n, y, r0, std::min(pr, w.rows - r0), buf);
  }
}

}  // namespace gearbox::serve
