// Aggregation kernels: Y = A X for a sparse A (n x n) and dense row-major X, Y (n x F, any F),
// float32. Each kernel prepares its own format from a subgraph once, then runs many times.
// Kernels are looked up in one registry keyed by device, name and the density classes they
// suit: the CPU kernels are built in, a device library registers its own beside them
// (device_registry.hpp; gearbox_gnn_cuda: cuda::register_cuda()).
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gearbox/core/machine.hpp"
#include "gearbox/gnn/csr.hpp"
#include "gearbox/gnn/density_split.hpp"

namespace gearbox::gnn {

enum class Device { kCpu, kCuda };
const char* device_name(Device d);

// The input a kernel is prepared from: the subgraph's entries (n x n CSR) and, for block
// kernels, the diagonal blocks that hold them. A kernel may keep pointing into *a: whoever
// makes a kernel keeps its subgraph alive as long as the kernel (ExecPlan owns both).
struct Subgraph {
  const Csr* a = nullptr;
  std::vector<BlockInfo> blocks;
};

// Predicted cost of one run, from bytes moved and flops done against the machine's measured
// bandwidth and FP32 peak (each kernel applies its own achievable fraction of peak).
struct CostEstimate {
  double bytes = 0, flops = 0, seconds = 0;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  // Y (=|+=) A X. With accumulate == false every row of Y is written (zero where A has none).
  // X has A.cols rows and Y has A.rows rows, both with row stride F.
  virtual void run(const float* x, int f, float* y, bool accumulate) const = 0;
  virtual const char* name() const = 0;
  virtual Device device() const { return Device::kCpu; }
  // Bytes of the prepared format (memory the kernel holds).
  virtual std::size_t format_bytes() const = 0;
  // The same kernel reading X and writing Y in the caller's node order: where this one reads
  // X row c and writes Y row r, the returned one reads X row old_of_new[c] and writes Y row
  // old_of_new[r] (old_of_new: a permutation of 0..n-1, the inverse of the plan's reordering),
  // so a reordered plan needs no permuted copy of X or Y. The column map is applied once
  // here, the row map as rows are written. nullptr where the format reads X in contiguous
  // row runs (dense blocks, 8x8 tiles): the caller then copies.
  virtual std::unique_ptr<Kernel> in_caller_order(const std::vector<index_t>& old_of_new) const {
    (void)old_of_new;
    return nullptr;
  }
};

struct KernelSpec {
  std::string name;
  Device device = Device::kCpu;
  std::vector<DensityClass> classes;  // density classes this kernel is a candidate for
  bool needs_blocks = false;          // uses Subgraph::blocks (diagonal-block kernels)
  std::function<std::unique_ptr<Kernel>(const Subgraph&)> make;
  std::function<CostEstimate(const Subgraph&, int f, const MachineProfile&)> cost;
};

// Every kernel registered so far, all devices (the CPU's first; entries never move, so
// pointers into it stay valid). Devices register before planning (register_device).
const std::deque<KernelSpec>& kernel_registry();
// The spec named `name` on `device`; Error::usage when unknown (naming the device's kernels).
const KernelSpec& find_kernel(const std::string& name, Device device = Device::kCpu);
// The candidates for one density class on one device.
std::vector<const KernelSpec*> kernels_for(DensityClass c, Device device = Device::kCpu);

// Plain reference: Y (=|+=) A X, serial scalar loops.
void spmm_reference(const Csr& a, const float* x, int f, float* y, bool accumulate);

// Vector instruction sets the run-time dispatched kernels can use, in increasing order.
enum class SimdLevel { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };
// The best level this CPU supports (cpuid, checked once).
SimdLevel best_simd();
const char* simd_name(SimdLevel s);

// The tuned CSR SpMM (nnz-balanced OpenMP rows, SIMD register-blocked feature slices).
// y_rows (optional, a permutation of A's rows): row r of A X is written to Y row y_rows[r].
// Runs spmm_csr_simd() with best_simd() and kCsrPrefetch, or without prefetch when f is at
// most kCsrNoPrefetchMaxWidth.
void spmm_csr(const Csr& a, const float* x, int f, float* y, bool accumulate,
              const index_t* y_rows = nullptr);

// spmm_csr without software prefetch at every width ("csr-nopf"; the plans measure it against
// spmm_csr where that prefetches, and keep it only when clearly faster).
void spmm_csr_nopf(const Csr& a, const float* x, int f, float* y, bool accumulate,
                   const index_t* y_rows = nullptr);

// Software prefetch distance (entries ahead, across rows) of the AVX-512 CSR loop. Measured
// on sbm 200k/256 by a prototype (64-byte aligned X and Y, lp blocks of 64, 2 threads,
// 2026-12-07): distance 16 2.0x the old AVX2 loop on the reordered graph and 1.2x in the given
// order, 8 1.9x and 1.2x, none 1.5x and 1.15x; in the levers bench 8, 16 and 32 were within
// noise of each other (docs/gnn-bench.md).
inline constexpr int kCsrPrefetch = 16;

// Where the row loops' software prefetch (AVX-512, AVX2) puts the X rows: into L1 (T0 hint) or L2
// (T1 hint); kAuto: what resolve_prefetch_into() says for the row slice's width on this CPU.
enum class PrefetchInto { kAuto, kL1, kL2 };
inline constexpr int kL2PrefetchMinWidth = 128;

// kAuto resolved for a row slice of `width` floats: L2 on AMD CPUs for slices of at least
// kL2PrefetchMinWidth floats, else L1 (`into` other than kAuto is returned as it is).
// Measured on an AMD EPYC (Zen 4, 2 cores, levers bench, random order per round, 2026-12-07
// 22:07-22:12 UTC, docs/gnn-bench.md): at F = 128 L2 1.13-1.30x faster than L1 on the graphs
// whose X exceeds the caches (sbm 200k/256, soc-slashdot0902, rmat 17, musae-github,
// email-enron, cond-mat-2005; 1.51x in the given order on sbm 200k/256), 0.84-0.97x where X
// fits (there the plans' "csr-nopf" beats both); at F = 256 1.29-1.32x; at F = 64 and 32 (4
// and 2 lines a row) mostly slower (0.83-1.0x), at F = 96 mixed. On the Intel Xeon of the
// earlier measurements (the panel kernel's outside pass, T0 against T1) neither was
// consistently faster, so other CPUs keep L1.
PrefetchInto resolve_prefetch_into(PrefetchInto into, int width);

// The widest feature width spmm_csr runs without software prefetch. At F = 16 an X row is one
// cache line and the prefetch (with the index load it needs) costs as much as the load it
// hides: without it the loop ran 1.20-1.28x faster on musae-facebook, pubmed, email-enron and
// sbm 200k/256 (levers bench in random order, 2 threads, 2026-12-07 18:45-18:52 UTC). From F = 32
// it pays where X exceeds the caches (sbm 200k/256: 1.2x at F = 32, 1.13x at 64, 1.12x at 128) and
// costs up to 1.07x where X fits (pubmed, musae-facebook at 32 and 64).
inline constexpr int kCsrNoPrefetchMaxWidth = 16;

// spmm_csr with a chosen instruction set (a level the CPU lacks falls back to best_simd()):
// AVX-512 takes each row's 128-float slices in registers (two partial sums per vector) with
// the X rows `prefetch` entries ahead prefetched into the cache `into` names; AVX2 in
// 64-float slices (one sum per vector, the same prefetch; narrower tails two sums, no
// prefetch); scalar the plain loop (kernel_rows.cpp). The seam for tests and the levers bench.
void spmm_csr_simd(const Csr& a, const float* x, int f, float* y, bool accumulate,
                   const index_t* y_rows, SimdLevel simd, int prefetch = kCsrPrefetch,
                   PrefetchInto into = PrefetchInto::kAuto);

// A copy of `a` with every column index c replaced by old_of_new[c] (for in_caller_order).
Csr remap_columns(const Csr& a, const std::vector<index_t>& old_of_new);

// The community-panel kernel ("panel" in the registry) with a chosen instruction set (levels
// the CPU lacks fall back to best_simd()): rows in panels = s.blocks (rows outside every block
// in panels of 128); per panel, each row's entries outside the panel are gathered whole-row,
// then its entries inside the panel. Row mode (tile_bytes = kPanelRowMode, the registry's):
// the inside entries row by row in slices of 128 floats held in registers, software prefetch
// (AVX-512 and AVX2 paths) only on the outside entries. Tiled mode (tile_bytes > 0): the inside
// entries one feature tile at a time over the panel, the tile sized so that the panel's slice of X
// fits `tile_bytes` (L1), 16 to 64 floats wide. The seam for tests (AVX-512, AVX2 and scalar
// paths) and for measuring the levers (bench/gnn/panel_levers.cpp).
// `prefetch` > 0: the AVX-512 and AVX2 paths prefetch the X rows that many entries ahead, into the
// cache `into` names.
inline constexpr std::size_t kPanelRowMode = 0;
inline constexpr std::size_t kPanelTileBytes = 32 * 1024;  // tiled mode's L1 budget
// Measured on sbm 200k (blocks 256 and 1024): row mode with distance 8 1.41-1.46x CSR
// reordered (CPU time), tiled with distance 16 1.15-1.16x (docs/gnn-bench.md).
inline constexpr int kPanelPrefetch = 8;
std::unique_ptr<Kernel> make_panel_kernel(const Subgraph& s, SimdLevel simd,
                                          std::size_t tile_bytes = kPanelRowMode,
                                          int prefetch = kPanelPrefetch,
                                          PrefetchInto into = PrefetchInto::kAuto);

}  // namespace gearbox::gnn
