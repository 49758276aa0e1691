// The CPU kernels: tuned CSR, DCSR (only non-empty rows, for the sparse remainder), 8x8
// block-sparse tiles (medium density) and dense diagonal blocks through BLAS sgemm.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "cpu_kernel_specs.hpp"
#include "gearbox/core/error.hpp"
#include "gearbox/gnn/kernels.hpp"
#include "kernel_rows.hpp"
#include "kernel_threads.hpp"

namespace gearbox::gnn {

using detail::balanced_row;

void spmm_reference(const Csr& a, const float* x, int f, float* y, bool accumulate) {
  for (index_t r = 0; r < a.rows; ++r) {
    float* yr = y + static_cast<std::ptrdiff_t>(r) * f;
    if (!accumulate) std::fill(yr, yr + f, 0.0f);
    for (offset_t k = a.rowptr[r]; k < a.rowptr[r + 1]; ++k) {
      const float* xr = x + static_cast<std::ptrdiff_t>(a.col[k]) * f;
      for (int j = 0; j < f; ++j) yr[j] += a.val[k] * xr[j];
    }
  }
}

void spmm_csr_simd(const Csr& a, const float* x, int f, float* y, bool accumulate,
                   const index_t* y_rows, SimdLevel simd, int prefetch, PrefetchInto into) {
  if (static_cast<int>(simd) > static_cast<int>(best_simd())) simd = best_simd();
  const offset_t* rp = a.rowptr.data();
#pragma omp parallel if (detail::worth_threads((a.nnz() + a.rows) * f))
  {
    const int nt = omp_get_num_threads(), t = omp_get_thread_num();
    const index_t r0 = balanced_row(rp, a.rows, t, nt), r1 = balanced_row(rp, a.rows, t + 1, nt);
    detail::rows_full(simd, a, r0, r1, x, f, y, y_rows, accumulate, prefetch, into);
  }
}

void spmm_csr(const Csr& a, const float* x, int f, float* y, bool accumulate,
              const index_t* y_rows) {
  spmm_csr_simd(a, x, f, y, accumulate, y_rows, best_simd(),
                f > kCsrNoPrefetchMaxWidth ? kCsrPrefetch : 0);
}

void spmm_csr_nopf(const Csr& a, const float* x, int f, float* y, bool accumulate,
                   const index_t* y_rows) {
  spmm_csr_simd(a, x, f, y, accumulate, y_rows, best_simd(), 0);
}

Csr remap_columns(const Csr& a, const std::vector<index_t>& old_of_new) {
  if (static_cast<index_t>(old_of_new.size()) != a.cols)
    throw Error::runtime("remap_columns: the permutation's size differs from the columns");
  Csr m = a;
  for (auto& c : m.col) c = old_of_new[static_cast<std::size_t>(c)];
  return m;
}

namespace {

constexpr double kLine = 64.0;  // bytes per cache line: a gathered X row costs whole lines

double gather_bytes(int f) {
  return std::max(kLine, std::ceil(f * 4.0 / kLine) * kLine);
}

CostEstimate finish(CostEstimate c, const MachineProfile& m, double flop_eff) {
  const double bw = std::max(1e-3, m.mem_bw_gbs) * 1e9;
  const double fl = std::max(1e-3, m.fp32_gflops) * 1e9 * flop_eff;
  c.seconds = std::max(c.bytes / bw, c.flops / fl) + 2e-6;  // + a parallel-region launch
  return c;
}

// ---- CSR ---------------------------------------------------------------------------------
// "csr": spmm_csr (software prefetch from F > kCsrNoPrefetchMaxWidth); "csr-nopf": the same
// loop without software prefetch at every width (the whole-matrix variant the selector
// measures against it from F > kCsrNoPrefetchMaxWidth: where X stays in the caches the
// prefetch only takes load slots).
class CsrKernel final : public Kernel {
 public:
  CsrKernel(const Csr& a, bool prefetch) : a_(&a), prefetch_(prefetch) {}
  // In the caller's order: owns the column-remapped copy and the output row map.
  CsrKernel(Csr remapped, std::vector<index_t> y_rows, bool prefetch)
      : own_(std::make_unique<Csr>(std::move(remapped))),
        y_rows_(std::move(y_rows)),
        prefetch_(prefetch) {
    a_ = own_.get();
  }
  void run(const float* x, int f, float* y, bool acc) const override {
    const index_t* rows = y_rows_.empty() ? nullptr : y_rows_.data();
    if (prefetch_)
      spmm_csr(*a_, x, f, y, acc, rows);
    else
      spmm_csr_nopf(*a_, x, f, y, acc, rows);
  }
  const char* name() const override { return prefetch_ ? "csr" : "csr-nopf"; }
  std::size_t format_bytes() const override {
    return a_->rowptr.size() * 8 + a_->col.size() * 8 + y_rows_.size() * 4;
  }
  std::unique_ptr<Kernel> in_caller_order(const std::vector<index_t>& old_of_new) const override {
    if (!y_rows_.empty()) return nullptr;  // already in the caller's order
    return std::make_unique<CsrKernel>(remap_columns(*a_, old_of_new), old_of_new, prefetch_);
  }

 private:
  const Csr* a_;  // the subgraph outlives the kernel (the plan owns both), or own_
  std::unique_ptr<Csr> own_;
  std::vector<index_t> y_rows_;  // empty: row r is written to row r
  bool prefetch_;
};

CostEstimate csr_cost(const Subgraph& s, int f, const MachineProfile& m) {
  const double nnz = static_cast<double>(s.a->nnz()), rows = s.a->rows;
  CostEstimate c;
  c.bytes = nnz * 8 + rows * 8 + nnz * gather_bytes(f) + rows * f * 4.0;
  c.flops = 2 * nnz * f;
  return finish(c, m, 0.25);
}

// ---- DCSR: only non-empty rows -------------------------------------------------------------
class DcsrKernel final : public Kernel {
 public:
  // packed_: the non-empty rows of `a` in order (row i of packed_ is row row_[i] of a).
  explicit DcsrKernel(const Csr& a) : rows_(a.rows) {
    packed_.cols = a.cols;  // rowptr starts as {0}
    for (index_t r = 0; r < a.rows; ++r)
      if (a.degree(r) > 0) {
        row_.push_back(r);
        packed_.rowptr.push_back(a.rowptr[r + 1] - a.rowptr[0]);
      }
    packed_.rows = static_cast<index_t>(row_.size());
    packed_.col.assign(a.col.begin() + a.rowptr[0], a.col.begin() + a.rowptr[a.rows]);
    packed_.val.assign(a.val.begin() + a.rowptr[0], a.val.begin() + a.rowptr[a.rows]);
  }
  void run(const float* x, int f, float* y, bool acc) const override {
    const index_t nr = packed_.rows;
    const offset_t* rp = packed_.rowptr.data();
    const SimdLevel simd = best_simd();
#pragma omp parallel if (detail::worth_threads((packed_.nnz() + rows_) * f))
    {
      const int nt = omp_get_num_threads(), t = omp_get_thread_num();
      if (!acc) {  // zero all rows first (each thread its slice), then write the non-empty ones
        const std::size_t total = static_cast<std::size_t>(rows_) * f;
        const std::size_t b = total * t / nt, e = total * (t + 1) / nt;
        std::memset(y + b, 0, (e - b) * sizeof(float));
#pragma omp barrier
      }
      const index_t i0 = balanced_row(rp, nr, t, nt), i1 = balanced_row(rp, nr, t + 1, nt);
      detail::rows_full(simd, packed_, i0, i1, x, f, y, row_.data(), true, kCsrPrefetch);
    }
  }
  const char* name() const override {
    return "dcsr";
  }
  std::size_t format_bytes() const override {
    return row_.size() * 12 + packed_.col.size() * 8;
  }
  // The rows it writes and the columns it reads mapped; every row is still zeroed when
  // !acc (the map is a permutation), so the same loop serves.
  std::unique_ptr<Kernel> in_caller_order(const std::vector<index_t>& old_of_new) const override {
    if (static_cast<index_t>(old_of_new.size()) != rows_) return nullptr;
    auto k = std::make_unique<DcsrKernel>(*this);
    for (auto& r : k->row_) r = old_of_new[static_cast<std::size_t>(r)];
    for (auto& c : k->packed_.col) c = old_of_new[static_cast<std::size_t>(c)];
    return k;
  }

 private:
  index_t rows_;
  Csr packed_;
  std::vector<index_t> row_;
};

CostEstimate dcsr_cost(const Subgraph& s, int f, const MachineProfile& m) {
  double nonempty = 0;
  for (index_t r = 0; r < s.a->rows; ++r) nonempty += s.a->degree(r) > 0;
  const double nnz = static_cast<double>(s.a->nnz());
  CostEstimate c;
  c.bytes =
      nnz * 8 + nonempty * 12 + nnz * gather_bytes(f) + s.a->rows * f * 4.0 + nonempty * f * 4.0;
  c.flops = 2 * nnz * f;
  return finish(c, m, 0.25);
}

// ---- BSR 8x8 tiles -----------------------------------------------------------------------
constexpr int kT = 8;

class BsrKernel final : public Kernel {
 public:
  explicit BsrKernel(const Csr& a) : rows_(a.rows), cols_(a.cols) {
    const index_t nbr = (a.rows + kT - 1) / kT;
    bptr_.assign(static_cast<std::size_t>(nbr) + 1, 0);
    std::vector<index_t> slot(static_cast<std::size_t>((a.cols + kT - 1) / kT), -1);
    for (index_t br = 0; br < nbr; ++br) {
      const offset_t first = static_cast<offset_t>(bcol_.size());
      const index_t r_end = std::min<index_t>(a.rows, (br + 1) * kT);
      for (index_t r = br * kT; r < r_end; ++r)
        for (offset_t k = a.rowptr[r]; k < a.rowptr[r + 1]; ++k) {
          const index_t bc = a.col[k] / kT;
          if (slot[bc] < 0) {
            slot[bc] = static_cast<index_t>(bcol_.size() - first);
            bcol_.push_back(bc);
            tiles_.resize(tiles_.size() + kT * kT, 0.0f);
          }
          tiles_[(first + slot[bc]) * kT * kT + (r % kT) * kT + a.col[k] % kT] += a.val[k];
        }
      for (offset_t t = first; t < static_cast<offset_t>(bcol_.size()); ++t) slot[bcol_[t]] = -1;
      bptr_[br + 1] = static_cast<offset_t>(bcol_.size());
    }
  }

  void run(const float* x, int f, float* y, bool acc) const override {
    const index_t nbr = static_cast<index_t>(bptr_.size()) - 1;
#pragma omp parallel for schedule( \
    dynamic, 16) if (detail::worth_threads(static_cast <offset_t>(tiles_.size()) * f))
    for (index_t br = 0; br < nbr; ++br) {
      const index_t r0 = br * kT, nr = std::min<index_t>(kT, rows_ - r0);
      float* yb = y + static_cast<std::ptrdiff_t>(r0) * f;
      if (!acc) std::memset(yb, 0, sizeof(float) * static_cast<std::size_t>(nr) * f);
      for (offset_t t = bptr_[br]; t < bptr_[br + 1]; ++t) {
        const index_t c0 = bcol_[t] * kT, nc = std::min<index_t>(kT, cols_ - c0);
        tile(tiles_.data() + t * kT * kT, x + static_cast<std::ptrdiff_t>(c0) * f, f, yb, nr, nc);
      }
    }
  }
  const char* name() const override {
    return "bsr8";
  }
  std::size_t format_bytes() const override {
    return bptr_.size() * 8 + bcol_.size() * 4 + tiles_.size() * 4;
  }
  std::size_t tiles() const {
    return bcol_.size();
  }

 private:
  // yb[nr x f] += T[nr x nc] * xb[nc x f]
  static void tile(const float* t, const float* xb, int f, float* yb, index_t nr, index_t nc) {
    int j = 0;
#ifdef GEARBOX_GNN_AVX2
    if (nr == kT && nc == kT) {
      for (; j + 8 <= f; j += 8) {
        __m256 s[kT];
        for (int r = 0; r < kT; ++r) s[r] = _mm256_loadu_ps(yb + r * f + j);
        for (int c = 0; c < kT; ++c) {
          const __m256 xv = _mm256_loadu_ps(xb + c * f + j);
          for (int r = 0; r < kT; ++r)
            s[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(t + r * kT + c), xv, s[r]);
        }
        for (int r = 0; r < kT; ++r) _mm256_storeu_ps(yb + r * f + j, s[r]);
      }
    }
#endif
    for (index_t r = 0; r < nr; ++r)
      for (index_t c = 0; c < nc; ++c) {
        const float w = t[r * kT + c];
        if (w == 0.0f) continue;
        for (int jj = j; jj < f; ++jj) yb[r * f + jj] += w * xb[c * f + jj];
      }
  }

  index_t rows_, cols_;
  std::vector<offset_t> bptr_;
  std::vector<index_t> bcol_;
  std::vector<float> tiles_;
};

double count_tiles(const Csr& a) {
  std::vector<char> seen(static_cast<std::size_t>((a.cols + kT - 1) / kT), 0);
  std::vector<index_t> touched;
  double tiles = 0;
  for (index_t br = 0; br * kT < a.rows; ++br) {
    const index_t r_end = std::min<index_t>(a.rows, (br + 1) * kT);
    for (index_t r = br * kT; r < r_end; ++r)
      for (offset_t k = a.rowptr[r]; k < a.rowptr[r + 1]; ++k) {
        const index_t bc = a.col[k] / kT;
        if (!seen[bc]) {
          seen[bc] = 1;
          touched.push_back(bc);
        }
      }
    tiles += static_cast<double>(touched.size());
    for (index_t bc : touched) seen[bc] = 0;
    touched.clear();
  }
  return tiles;
}

CostEstimate bsr_cost(const Subgraph& s, int f, const MachineProfile& m) {
  const double tiles = count_tiles(*s.a);
  CostEstimate c;
  c.bytes = tiles * (kT * kT * 4 + 4) + tiles * kT * f * 4.0 + s.a->rows * f * 4.0 * 2;
  c.flops = tiles * kT * kT * 2.0 * f;
  return finish(c, m, 0.35);
}

// ---- dense diagonal blocks (BLAS) ----------------------------------------------------------
class DenseBlockKernel final : public Kernel {
 public:
  DenseBlockKernel(const Csr& a, std::vector<BlockInfo> blocks)
      : rows_(a.rows), blocks_(std::move(blocks)) {
    std::size_t total = 0;
    for (const auto& b : blocks_) {
      offset_.push_back(total);
      total += static_cast<std::size_t>(b.size()) * b.size();
    }
    dense_.assign(total, 0.0f);
    covered_.assign(static_cast<std::size_t>(a.rows), 0);
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      const auto& b = blocks_[i];
      float* d = dense_.data() + offset_[i];
      for (index_t r = b.begin; r < b.end; ++r) {
        covered_[r] = 1;
        for (offset_t k = a.rowptr[r]; k < a.rowptr[r + 1]; ++k) {
          const index_t c = a.col[k];
          if (c < b.begin || c >= b.end)
            throw Error::runtime("dense kernel: entry outside its diagonal block");
          d[static_cast<std::size_t>(r - b.begin) * b.size() + (c - b.begin)] += a.val[k];
        }
      }
    }
    for (index_t r = 0; r < a.rows; ++r)
      if (!covered_[r] && a.degree(r) > 0)
        throw Error::runtime("dense kernel: row with entries outside every block");
  }

  void run(const float* x, int f, float* y, bool acc) const override {
    const int nb = static_cast<int>(blocks_.size());
    if (!acc) {
#pragma omp parallel for schedule( \
    static) if (detail::worth_threads(static_cast <offset_t>(rows_) * f))
      for (index_t r = 0; r < rows_; ++r)
        if (!covered_[r]) std::memset(y + static_cast<std::ptrdiff_t>(r) * f, 0, sizeof(float) * f);
    }
#pragma omp parallel for schedule( \
    dynamic, 1) if (nb > 1 && detail::worth_threads(static_cast <offset_t>(dense_.size()) * f))
    for (int i = 0; i < nb; ++i) {
      const auto& b = blocks_[i];
      const int s = b.size();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s, f, s, 1.0f,
                  dense_.data() + offset_[i], s, x + static_cast<std::ptrdiff_t>(b.begin) * f, f,
                  acc ? 1.0f : 0.0f, y + static_cast<std::ptrdiff_t>(b.begin) * f, f);
    }
  }
  const char* name() const override {
    return "dense";
  }
  std::size_t format_bytes() const override {
    return dense_.size() * 4;
  }

 private:
  index_t rows_;
  std::vector<BlockInfo> blocks_;
  std::vector<std::size_t> offset_;
  std::vector<float> dense_;
  std::vector<char> covered_;
};

CostEstimate dense_cost(const Subgraph& s, int f, const MachineProfile& m) {
  CostEstimate c;
  for (const auto& b : s.blocks) {
    const double n = b.size();
    c.bytes += n * n * 4 + 2 * n * f * 4.0;
    c.flops += 2 * n * n * f;
  }
  // Small GEMMs reach a fraction of the SGEMM peak measured on large ones.
  return finish(c, m, 0.5);
}

// ---- community panels (kernel_panel.cpp) ----------------------------------------------------
CostEstimate panel_cost(const Subgraph& s, int f, const MachineProfile& m) {
  const double nnz = static_cast<double>(s.a->nnz()), rows = s.a->rows;
  double inside = 0;  // entries inside a panel's block gather from its cached slice of X
  for (const auto& b : s.blocks) inside += static_cast<double>(b.nnz);
  inside = std::min(inside, nnz);
  CostEstimate c;
  c.bytes = nnz * 8 + rows * 8 + (nnz - inside) * gather_bytes(f) + 2 * rows * f * 4.0;
  c.flops = 2 * nnz * f;
  return finish(c, m, 0.35);
}

std::vector<KernelSpec> make_registry() {
  using DC = DensityClass;
  std::vector<KernelSpec> r;
  r.push_back({"csr",
               Device::kCpu,
               {DC::kDense, DC::kMedium, DC::kSparse},
               false,
               [](const Subgraph& s) { return std::make_unique<CsrKernel>(*s.a, true); },
               csr_cost});
  // Whole-matrix only (no density class): proposed beside "csr" by propose_candidates().
  r.push_back({"csr-nopf",
               Device::kCpu,
               {},
               false,
               [](const Subgraph& s) { return std::make_unique<CsrKernel>(*s.a, false); },
               csr_cost});
  r.push_back({"panel",
               Device::kCpu,
               {DC::kDense, DC::kMedium, DC::kSparse},
               true,
               [](const Subgraph& s) { return make_panel_kernel(s, best_simd()); },
               panel_cost});
  r.push_back({"dcsr",
               Device::kCpu,
               {DC::kSparse},
               false,
               [](const Subgraph& s) { return std::make_unique<DcsrKernel>(*s.a); },
               dcsr_cost});
  r.push_back({"bsr8",
               Device::kCpu,
               {DC::kDense, DC::kMedium},
               false,
               [](const Subgraph& s) { return std::make_unique<BsrKernel>(*s.a); },
               bsr_cost});
  r.push_back({"dense",
               Device::kCpu,
               {DC::kDense, DC::kMedium},
               true,
               [](const Subgraph& s) { return std::make_unique<DenseBlockKernel>(*s.a, s.blocks); },
               dense_cost});
  return r;
}

}  // namespace

const char* device_name(Device d) {
  return d == Device::kCpu ? "cpu" : "cuda";
}

namespace detail {
std::vector<KernelSpec> cpu_kernel_specs() {
  return make_registry();
}
}  // namespace detail

}  // namespace gearbox::gnn
