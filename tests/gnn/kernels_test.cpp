// Property tests: every registered kernel against the plain reference, on random graphs of
// awkward shapes (empty rows, one huge row, tiny and odd sizes) and feature widths.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <utility>

#include "gearbox/core/error.hpp"
#include "gearbox/core/threads.hpp"
#include "gearbox/gnn/density_split.hpp"
#include "gearbox/gnn/kernels.hpp"
#include "gearbox/gnn/reorder.hpp"

using namespace gearbox::gnn;

namespace {

// A random symmetric-ish matrix with empty rows, optionally one huge row, and dense
// diagonal clumps so that every density class gets entries.
Csr random_graph(index_t n, double p, bool huge_row, std::mt19937& rng) {
  Coo coo;
  coo.rows = coo.cols = n;
  std::uniform_real_distribution<float> val(-1.f, 1.f);
  std::uniform_real_distribution<double> u(0, 1);
  for (index_t i = 0; i < n; ++i) {
    if (i % 5 == 3) continue;  // empty rows
    for (index_t j = std::max<index_t>(0, i - 6); j < std::min<index_t>(n, i + 6); ++j)
      if (u(rng) < 0.7) {  // dense diagonal clumps
        coo.row.push_back(i);
        coo.col.push_back(j);
        coo.val.push_back(val(rng));
      }
    const int extra = static_cast<int>(p * n);
    for (int k = 0; k < extra; ++k) {
      coo.row.push_back(i);
      coo.col.push_back(static_cast<index_t>(rng() % n));
      coo.val.push_back(val(rng));
    }
  }
  if (huge_row && n > 2)
    for (index_t j = 0; j < n; ++j) {
      coo.row.push_back(n / 2);
      coo.col.push_back(j);
      coo.val.push_back(val(rng));
    }
  return coo_to_csr(coo);
}

std::vector<float> random_dense(std::size_t count, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(count);
  for (auto& x : v) x = d(rng);
  return v;
}

void expect_close(const std::vector<float>& a, const std::vector<float>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    ASSERT_NEAR(a[i], b[i], 1e-4f * (1 + std::abs(b[i]))) << what << " at " << i;
}

// X and Y of `size` floats placed ox / oy floats past a 64-byte boundary, Y between guard
// floats that a kernel must leave as they are (masked-out lanes are never written).
struct PlacedXY {
  static constexpr int kGuard = 32;
  static constexpr float kGuardValue = 7.0f;
  std::size_t size;
  std::vector<float> xs, ys;
  float* x;
  float* y;
  // X holds a copy of xv.
  PlacedXY(const std::vector<float>& xv, int ox, int oy)
      : size(xv.size()),
        xs(size + 64),
        ys(size + 64 + 2 * kGuard),
        x(at(xs, ox)),
        y(at(ys, kGuard + oy)) {
    std::copy(xv.begin(), xv.end(), x);
  }
  static float* at(std::vector<float>& v, int skip) {
    const auto mis = reinterpret_cast<std::uintptr_t>(v.data()) % 64;
    return v.data() + (64 - mis) % 64 / 4 + skip;
  }
  void set_y(const std::vector<float>& y0) {
    std::fill(ys.begin(), ys.end(), kGuardValue);
    std::copy(y0.begin(), y0.end(), y);
  }
  std::vector<float> y_values() const { return std::vector<float>(y, y + size); }
  void expect_guards_untouched() const {
    for (const float* g = y - kGuard; g < y; ++g) ASSERT_EQ(*g, kGuardValue) << "guard before Y";
    for (const float* g = y + size; g < y + size + kGuard; ++g)
      ASSERT_EQ(*g, kGuardValue) << "guard after Y";
  }
};

}  // namespace

TEST(Kernels, EveryKernelMatchesReferenceOnAwkwardShapes) {
  std::mt19937 rng(42);
  gearbox::ThreadScope threads(2);
  int checked = 0, whole_checked = 0;
  for (index_t n : {1, 2, 9, 37, 300}) {
    for (bool huge : {false, true}) {
      const Csr a = random_graph(n, 0.02, huge, rng);
      // Random block boundaries (1..40 rows each).
      std::vector<index_t> starts{0};
      while (starts.back() < n)
        starts.push_back(
            std::min<index_t>(n, starts.back() + 1 + static_cast<index_t>(rng() % 40)));
      const auto blocks = diagonal_blocks(a, starts);
      const DensitySplit split = split_by_density(a, blocks, {0.3, 0.08});
      for (int f : {1, 3, 17, 64, 129}) {
        const auto x = random_dense(static_cast<std::size_t>(n) * f, rng);
        const auto y0 = random_dense(static_cast<std::size_t>(n) * f, rng);
        for (int c = 0; c < kDensityClasses; ++c) {
          const auto cls = static_cast<DensityClass>(c);
          Subgraph sg{&split.of(cls), split.blocks_of(cls)};
          for (const KernelSpec* spec : kernels_for(cls)) {
            auto k = spec->make(sg);
            for (bool acc : {false, true}) {
              std::vector<float> want = y0, got = y0;
              spmm_reference(*sg.a, x.data(), f, want.data(), acc);
              k->run(x.data(), f, got.data(), acc);
              SCOPED_TRACE(std::string(spec->name) + " n=" + std::to_string(n) +
                           " f=" + std::to_string(f) + " acc=" + std::to_string(acc) +
                           " huge=" + std::to_string(huge));
              expect_close(got, want, spec->name.c_str());
              ++checked;
            }
          }
        }
        // Whole-matrix kernels (no density class: "csr-nopf") on the whole matrix.
        for (const auto& spec : kernel_registry()) {
          if (spec.device != Device::kCpu || !spec.classes.empty()) continue;
          auto k = spec.make(Subgraph{&a, {}});
          for (bool acc : {false, true}) {
            std::vector<float> want = y0, got = y0;
            spmm_reference(a, x.data(), f, want.data(), acc);
            k->run(x.data(), f, got.data(), acc);
            SCOPED_TRACE(spec.name + " (whole) n=" + std::to_string(n) + " f=" + std::to_string(f) +
                         " acc=" + std::to_string(acc));
            expect_close(got, want, spec.name.c_str());
            ++whole_checked;
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 300);
  EXPECT_GE(whole_checked, 100) << "csr-nopf ran on every shape";
}

TEST(Kernels, TunedCsrMatchesReferenceWithManyThreadsAndFewRows) {
  std::mt19937 rng(7);
  const Csr a = random_graph(5, 0.5, true, rng);
  for (int t : {1, 2, 3, 8}) {
    gearbox::ThreadScope threads(t);
    for (int f : {1, 8, 16, 33}) {
      const auto x = random_dense(5u * f, rng);
      std::vector<float> want(5u * f, 9.f), got(5u * f, 9.f);
      spmm_reference(a, x.data(), f, want.data(), false);
      spmm_csr(a, x.data(), f, got.data(), false);
      expect_close(got, want, "csr");
    }
  }
}

TEST(Kernels, CsrEverySimdLevelMatchesReference) {
  // spmm_csr_simd at every level (scalar, AVX2, AVX-512 with prefetch off, odd and the
  // default distance, into the cache chosen by width, L1 and L2), widths around the 16-float vector
  // and the 128-float slice, X and Y at 64-byte boundaries and 0..15 floats past them (alike and
  // unlike), with and without an output row map; guard floats around Y must stay as they were.
  std::mt19937 rng(29);
  const index_t n = 700;
  const Csr a = random_graph(n, 0.02, true, rng);
  std::vector<index_t> perm(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) perm[static_cast<std::size_t>(i)] = (i * 37 + 11) % n;
  gearbox::ThreadScope threads(2);
  int checked = 0;
  for (SimdLevel simd : {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512})
    for (const auto& [pd, into] : {std::pair{0, PrefetchInto::kAuto},
                                   {3, PrefetchInto::kAuto},
                                   {kCsrPrefetch, PrefetchInto::kAuto},
                                   {kCsrPrefetch, PrefetchInto::kL1},
                                   {5, PrefetchInto::kL2}})
      for (int f : {1, 15, 16, 17, 100, 128, 129, 272})
        for (const auto& [ox, oy] : {std::pair{0, 0}, {4, 4}, {3, 9}})
          for (bool mapped : {false, true}) {
            const std::size_t size = static_cast<std::size_t>(n) * f;
            const auto xv = random_dense(size, rng), y0 = random_dense(size, rng);
            PlacedXY b(xv, ox, oy);
            for (bool acc : {false, true}) {
              b.set_y(y0);
              // Mapped: row r of A X lands in Y row perm[r].
              std::vector<float> want = y0, ar(size);
              if (mapped) {
                for (index_t r = 0; r < n; ++r)
                  std::copy_n(y0.begin() + static_cast<std::ptrdiff_t>(perm[r]) * f, f,
                              ar.begin() + static_cast<std::ptrdiff_t>(r) * f);
                spmm_reference(a, xv.data(), f, ar.data(), acc);
                for (index_t r = 0; r < n; ++r)
                  std::copy_n(ar.begin() + static_cast<std::ptrdiff_t>(r) * f, f,
                              want.begin() + static_cast<std::ptrdiff_t>(perm[r]) * f);
              } else {
                spmm_reference(a, xv.data(), f, want.data(), acc);
              }
              spmm_csr_simd(a, b.x, f, b.y, acc, mapped ? perm.data() : nullptr, simd, pd, into);
              SCOPED_TRACE(std::string(simd_name(simd)) + " pf=" + std::to_string(pd) + " into=" +
                           std::to_string(static_cast<int>(into)) + " f=" + std::to_string(f) +
                           " x+" + std::to_string(ox) + " y+" + std::to_string(oy) +
                           " mapped=" + std::to_string(mapped) + " acc=" + std::to_string(acc));
              expect_close(b.y_values(), want, "csr");
              b.expect_guards_untouched();
              ++checked;
            }
          }
  EXPECT_EQ(checked, 3 * 5 * 8 * 3 * 2 * 2);
}

TEST(Kernels, AutoPrefetchTargetFollowsWidthAndCpuVendor) {
  // kAuto: L2 on AMD CPUs from kL2PrefetchMinWidth-float slices on, else L1; a forced target
  // is kept. The vendor is read here from /proc/cpuinfo, not through the CPUID path under test.
  std::ifstream info("/proc/cpuinfo");
  if (!info) GTEST_SKIP() << "/proc/cpuinfo is absent";
  std::string line;
  bool amd = false;
  while (std::getline(info, line))
    if (line.rfind("vendor_id", 0) == 0) {
      amd = line.find("AuthenticAMD") != std::string::npos;
      break;
    }
  EXPECT_EQ(resolve_prefetch_into(PrefetchInto::kAuto, kL2PrefetchMinWidth - 1), PrefetchInto::kL1);
  EXPECT_EQ(resolve_prefetch_into(PrefetchInto::kAuto, 16), PrefetchInto::kL1);
  EXPECT_EQ(resolve_prefetch_into(PrefetchInto::kAuto, kL2PrefetchMinWidth),
            amd ? PrefetchInto::kL2 : PrefetchInto::kL1);
  for (int w : {16, kL2PrefetchMinWidth})
    for (PrefetchInto into : {PrefetchInto::kL1, PrefetchInto::kL2})
      EXPECT_EQ(resolve_prefetch_into(into, w), into);
}

TEST(Kernels, SplitPartsSumToTheWhole) {
  std::mt19937 rng(3);
  const Csr a = random_graph(200, 0.03, true, rng);
  const Ordering o = compute_ordering(a, ReorderMethod::kNone, 16, 0);
  const DensitySplit s = split_by_density(a, diagonal_blocks(a, o.block_starts), {0.4, 0.1});
  EXPECT_EQ(s.of(DensityClass::kDense).nnz() + s.of(DensityClass::kMedium).nnz() +
                s.of(DensityClass::kSparse).nnz(),
            a.nnz());
  EXPECT_GT(s.of(DensityClass::kDense).nnz(), 0);
  EXPECT_GT(s.of(DensityClass::kSparse).nnz(), 0);
  const int f = 5;
  const auto x = random_dense(200u * f, rng);
  std::vector<float> want(200u * f), got(200u * f);
  spmm_reference(a, x.data(), f, want.data(), false);
  spmm_reference(s.of(DensityClass::kSparse), x.data(), f, got.data(), false);
  spmm_reference(s.of(DensityClass::kMedium), x.data(), f, got.data(), true);
  spmm_reference(s.of(DensityClass::kDense), x.data(), f, got.data(), true);
  expect_close(got, want, "sum of parts");
}

TEST(Kernels, RegistryKeyedByClassAndDevice) {
  EXPECT_FALSE(kernels_for(DensityClass::kDense).empty());
  EXPECT_FALSE(kernels_for(DensityClass::kSparse).empty());
  EXPECT_TRUE(kernels_for(DensityClass::kDense, Device::kCuda).empty());
  EXPECT_EQ(find_kernel("csr").name, "csr");
  EXPECT_EQ(find_kernel("csr-nopf").name, "csr-nopf");
  for (int c = 0; c < kDensityClasses; ++c)  // whole-matrix only: never a class's kernel
    for (const KernelSpec* spec : kernels_for(static_cast<DensityClass>(c)))
      EXPECT_NE(spec->name, "csr-nopf");
  EXPECT_THROW(find_kernel("nope"), gearbox::Error);
}

TEST(Kernels, PanelKernelEverySimdLevelMatchesReference) {
  // Panels from blocks of awkward sizes (1 and 7 rows; 250 rows: 32-float tiles; 400 rows:
  // 16-float tiles; 650 rows: too big for L1, swept 64 wide; rows 8..299 in no block: gap
  // panels), widths around the 16-float vector, the tile edges and row mode's 128-float
  // slices; tiled (prefetch on and off, odd distance) and row mode (tile_bytes 0).
  std::mt19937 rng(11);
  const index_t n = 1700;
  const Csr a = random_graph(n, 0.006, true, rng);
  const std::vector<index_t> starts{0, 1, 8, 300, 550, 950, 1600, n};
  std::vector<BlockInfo> blocks = diagonal_blocks(a, starts);
  blocks.erase(blocks.begin() + 2);  // rows 8..299 belong to no block: gap panels
  gearbox::ThreadScope threads(2);
  const struct {
    std::size_t tile_bytes;
    int prefetch;
  } configs[] = {{kPanelTileBytes, kPanelPrefetch}, {kPanelTileBytes, 0}, {1, 3}, {0, 0}, {0, 8}};
  int checked = 0;
  for (SimdLevel simd : {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512})
    for (const auto& cfg : configs) {
      auto k = make_panel_kernel(Subgraph{&a, blocks}, simd, cfg.tile_bytes, cfg.prefetch);
      for (int f : {1, 7, 15, 16, 17, 31, 33, 64, 100, 128, 129, 200}) {
        const auto x = random_dense(static_cast<std::size_t>(n) * f, rng);
        const auto y0 = random_dense(static_cast<std::size_t>(n) * f, rng);
        for (bool acc : {false, true}) {
          std::vector<float> want = y0, got = y0;
          spmm_reference(a, x.data(), f, want.data(), acc);
          k->run(x.data(), f, got.data(), acc);
          SCOPED_TRACE(std::string(simd_name(simd)) + " tile_bytes=" +
                       std::to_string(cfg.tile_bytes) + " pf=" + std::to_string(cfg.prefetch) +
                       " f=" + std::to_string(f) + " acc=" + std::to_string(acc));
          expect_close(got, want, "panel");
          ++checked;
        }
      }
    }
  EXPECT_EQ(checked, 3 * 5 * 12 * 2);
}

TEST(Kernels, RowKernelsAtEveryAlignmentOfXAndY) {
  // X and Y placed 0..15 floats past a 64-byte boundary, alike and unlike (the AVX-512 and AVX2
  // row loops read X from the 64- or 32-byte boundary below it, masked, and Y at the matching
  // unaligned offsets); widths that are multiples of 16 or 8 (the masked paths) and not; the
  // panel kernel, plain CSR (AVX-512 with and without prefetch, AVX2), and CSR writing Y through
  // a row map; guard floats around Y must stay as they were (masked-out lanes are never
  // written).
  std::mt19937 rng(23);
  const index_t n = 600;
  const Csr a = random_graph(n, 0.02, true, rng);
  const std::vector<BlockInfo> blocks = diagonal_blocks(a, {0, 100, 356, 357, n});
  std::vector<index_t> y_rows(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) y_rows[static_cast<std::size_t>(i)] = i;
  std::shuffle(y_rows.begin(), y_rows.end(), rng);
  gearbox::ThreadScope threads(2);
  struct Case {
    std::string name;
    std::function<void(const float*, int, float*, bool)> run;
    bool permuted;  // writes row r of A X to Y row y_rows[r]
  };
  std::vector<std::unique_ptr<Kernel>> panels;
  std::vector<Case> cases;
  for (SimdLevel simd : {SimdLevel::kAvx2, SimdLevel::kAvx512})
    for (std::size_t tile_bytes : {kPanelRowMode, kPanelTileBytes}) {
      for (PrefetchInto into : {PrefetchInto::kL1, PrefetchInto::kL2}) {
        panels.push_back(make_panel_kernel(Subgraph{&a, blocks}, simd, tile_bytes, 8, into));
        const Kernel* k = panels.back().get();
        cases.push_back(
            {std::string("panel ") + simd_name(simd) + " tile_bytes=" + std::to_string(tile_bytes) +
                 " into=" + std::to_string(static_cast<int>(into)),
             [k](const float* x, int f, float* y, bool acc) { k->run(x, f, y, acc); }, false});
      }
    }
  cases.push_back({"csr",
                   [&](const float* x, int f, float* y, bool acc) { spmm_csr(a, x, f, y, acc); },
                   false});
  cases.push_back({"csr avx2",
                   [&](const float* x, int f, float* y, bool acc) {
                     spmm_csr_simd(a, x, f, y, acc, nullptr, SimdLevel::kAvx2);
                   },
                   false});
  for (PrefetchInto into : {PrefetchInto::kL1, PrefetchInto::kL2})
    cases.push_back({"csr avx512 into=" + std::to_string(static_cast<int>(into)),
                     [&, into](const float* x, int f, float* y, bool acc) {
                       spmm_csr_simd(a, x, f, y, acc, nullptr, SimdLevel::kAvx512, kCsrPrefetch,
                                     into);
                     },
                     false});
  cases.push_back(
      {"csr-nopf",
       [&](const float* x, int f, float* y, bool acc) { spmm_csr_nopf(a, x, f, y, acc); }, false});
  cases.push_back(
      {"csr, Y through a row map",
       [&](const float* x, int f, float* y, bool acc) { spmm_csr(a, x, f, y, acc, y_rows.data()); },
       true});
  int checked = 0;
  for (const Case& c : cases)
    for (int f : {16, 20, 48, 128, 144})
      for (const auto& [ox, oy] :
           {std::pair{0, 0}, {1, 1}, {4, 4}, {15, 15}, {4, 0}, {3, 9}, {8, 12}, {0, 5}}) {
        const std::size_t size = static_cast<std::size_t>(n) * f;
        const auto xv = random_dense(size, rng), y0 = random_dense(size, rng);
        PlacedXY b(xv, ox, oy);
        for (bool acc : {false, true}) {
          b.set_y(y0);
          std::vector<float> want(size);
          if (c.permuted) {  // Y row y_rows[r] (=|+=) (A X)[r]
            std::vector<float> ax(size);
            spmm_reference(a, xv.data(), f, ax.data(), false);
            for (index_t r = 0; r < n; ++r)
              for (int q = 0; q < f; ++q) {
                const std::size_t at = static_cast<std::size_t>(y_rows[r]) * f + q;
                want[at] = (acc ? y0[at] : 0.f) + ax[static_cast<std::size_t>(r) * f + q];
              }
          } else {
            want = y0;
            spmm_reference(a, xv.data(), f, want.data(), acc);
          }
          c.run(b.x, f, b.y, acc);
          SCOPED_TRACE(c.name + " f=" + std::to_string(f) + " x+" + std::to_string(ox) + " y+" +
                       std::to_string(oy) + " acc=" + std::to_string(acc));
          expect_close(b.y_values(), want, c.name.c_str());
          b.expect_guards_untouched();
          ++checked;
        }
      }
  EXPECT_EQ(checked, 14 * 5 * 8 * 2);
}

namespace {

// Y = A X computed the plain way for a kernel prepared in the planned order but run in the
// caller's: X and Y0 given in the caller's order are permuted into the planned one
// (planned row i = caller row old_of_new[i]), multiplied by the reference, permuted back.
std::vector<float> reference_in_caller_order(const Csr& a, const std::vector<index_t>& old_of_new,
                                             const std::vector<float>& x,
                                             const std::vector<float>& y0, int f, bool acc) {
  const auto n = static_cast<std::size_t>(a.rows);
  std::vector<float> xp(n * f), yp(n * f), y(n * f);
  for (std::size_t i = 0; i < n; ++i)
    for (int j = 0; j < f; ++j) {
      xp[i * f + j] = x[static_cast<std::size_t>(old_of_new[i]) * f + j];
      yp[i * f + j] = y0[static_cast<std::size_t>(old_of_new[i]) * f + j];
    }
  spmm_reference(a, xp.data(), f, yp.data(), acc);
  for (std::size_t i = 0; i < n; ++i)
    for (int j = 0; j < f; ++j) y[static_cast<std::size_t>(old_of_new[i]) * f + j] = yp[i * f + j];
  return y;
}

}  // namespace

TEST(Kernels, InCallerOrderReadsAndWritesThroughThePermutation) {
  // Every kernel that can fuse the permutation (csr, csr-nopf, dcsr, panel at every SIMD level)
  // does, and its result in the caller's order equals the reference's; the others say they cannot.
  std::mt19937 rng(23);
  gearbox::ThreadScope threads(2);
  int fused = 0;
  for (index_t n : {1, 2, 37, 300, 1100}) {
    const Csr a = random_graph(n, 0.02, n > 100, rng);
    std::vector<index_t> starts{0};
    while (starts.back() < n)
      starts.push_back(std::min<index_t>(n, starts.back() + 1 + static_cast<index_t>(rng() % 300)));
    const auto blocks = diagonal_blocks(a, starts);
    std::vector<index_t> old_of_new(static_cast<std::size_t>(n));
    for (index_t i = 0; i < n; ++i) old_of_new[i] = i;
    std::shuffle(old_of_new.begin(), old_of_new.end(), rng);
    std::vector<std::pair<std::string, std::unique_ptr<Kernel>>> ks;
    for (const auto& spec : kernel_registry())
      if (spec.device == Device::kCpu && spec.name != "dense")
        ks.emplace_back(spec.name, spec.make(Subgraph{&a, blocks}));
    // Dense blocks take only the entries inside their blocks.
    const DensitySplit all_dense = split_by_density(a, blocks, {0.0, 0.0});
    ks.emplace_back("dense",
                    find_kernel("dense").make(Subgraph{&all_dense.of(DensityClass::kDense),
                                                       all_dense.blocks_of(DensityClass::kDense)}));
    for (SimdLevel s : {SimdLevel::kScalar, SimdLevel::kAvx2})
      ks.emplace_back(std::string("panel-") + simd_name(s),
                      make_panel_kernel(Subgraph{&a, blocks}, s));
    for (const auto& [name, k] : ks) {
      const auto p = k->in_caller_order(old_of_new);
      const bool can =
          name == "csr" || name == "csr-nopf" || name == "dcsr" || name.rfind("panel", 0) == 0;
      ASSERT_EQ(p != nullptr, can) << name;
      if (!p) continue;
      for (int f : {1, 7, 16, 33, 129}) {
        const auto x = random_dense(static_cast<std::size_t>(n) * f, rng);
        const auto y0 = random_dense(static_cast<std::size_t>(n) * f, rng);
        for (bool acc : {false, true}) {
          const auto want = reference_in_caller_order(a, old_of_new, x, y0, f, acc);
          std::vector<float> got = y0;
          p->run(x.data(), f, got.data(), acc);
          SCOPED_TRACE(name + " n=" + std::to_string(n) + " f=" + std::to_string(f) +
                       " acc=" + std::to_string(acc));
          expect_close(got, want, name.c_str());
          ++fused;
        }
      }
    }
  }
  EXPECT_EQ(fused, 5 * 5 * 6 * 2);  // 5 sizes x 5 widths x 6 kernels x acc
}
