// The block CUDA kernels: column-compacted tiles on the tensor cores ("tiles-tf32") and dense
// diagonal blocks as strided-batched cuBLAS GEMMs ("dense-tf32", "dense-bf16").
#include <cstdint>
#include <cstring>

#include "factories.hpp"
#include "gearbox/core/error.hpp"
#include "gearbox/gnn/cuda/block_runs.hpp"
#include "gearbox/gnn/cuda/tile_plan.hpp"
#include "handles.hpp"
#include "launch.hpp"

namespace gearbox::gnn::cuda::detail {

namespace {

class TileKernel final : public CudaKernel {
 public:
  explicit TileKernel(const Csr& a) {
    const TilePlan p = plan_tiles(a);
    rows_ = p.rows;
    windows_ = p.windows();
    window_ptr_ = to_device(p.window_ptr);
    tile_col_ = to_device(p.tile_col);
    tile_val_ = to_device(p.tile_val);
  }
  void run_fused(const float* x, int f, float* y, bool acc, const Epilogue& ep) const override {
    TileArgs t;
    t.window_ptr = window_ptr_.as<std::int64_t>();
    t.tile_col = tile_col_.as<std::int32_t>();
    t.tile_val = tile_val_.as<float>();
    t.rows = rows_;
    t.windows = windows_;
    tile_spmm(t, x, f, y, acc, ep.bias, ep.relu);
  }
  const char* name() const override { return "tiles-tf32"; }
  std::size_t format_bytes() const override {
    return window_ptr_.bytes() + tile_col_.bytes() + tile_val_.bytes();
  }
  // Both operands rounded to nearest TF32 (unit roundoff 2^-11): typically ~4e-4.
  double error_bound() const override { return 1e-3; }

 private:
  index_t rows_ = 0, windows_ = 0;
  DeviceBuffer window_ptr_, tile_col_, tile_val_;
};

// Round to nearest even, as __float2bfloat16_rn does (NaN kept quiet).
std::uint16_t bf16_bits(float v) {
  std::uint32_t u = 0;
  std::memcpy(&u, &v, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

class DenseKernel final : public CudaKernel {
 public:
  DenseKernel(const Csr& a, const std::vector<BlockInfo>& blocks, bool bf16)
      : rows_(a.rows), bf16_(bf16), blocks_(blocks) {
    runs_ = plan_block_runs(blocks_);
    std::vector<std::size_t> offset(blocks_.size(), 0);
    std::size_t total = 0;
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      offset[i] = total;
      total += static_cast<std::size_t>(blocks_[i].size()) * blocks_[i].size();
    }
    std::vector<float> dense(total, 0.0f);
    std::vector<char> covered(static_cast<std::size_t>(a.rows), 0);
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      const BlockInfo& b = blocks_[i];
      for (index_t r = b.begin; r < b.end; ++r) {
        covered[r] = 1;
        for (offset_t k = a.rowptr[r]; k < a.rowptr[r + 1]; ++k) {
          const index_t c = a.col[k];
          if (c < b.begin || c >= b.end)
            throw Error::runtime("dense kernel: entry outside its diagonal block")
                .found("row " + std::to_string(r) + ", column " + std::to_string(c));
          dense[offset[i] + static_cast<std::size_t>(r - b.begin) * b.size() + (c - b.begin)] +=
              a.val[k];
        }
      }
    }
    for (index_t r = 0; r < a.rows; ++r)
      if (!covered[r] && a.degree(r) > 0)
        throw Error::runtime("dense kernel: row with entries outside every block")
            .found("row " + std::to_string(r));
    run_offset_.reserve(runs_.size());
    for (const BlockRun& r : runs_) run_offset_.push_back(offset[r.first_block]);
    if (bf16_) {
      std::vector<std::uint16_t> h(total);
      for (std::size_t i = 0; i < total; ++i) h[i] = bf16_bits(dense[i]);
      dense_ = to_device(h);
    } else {
      dense_ = to_device(dense);
    }
    std::vector<std::int32_t> ranges;
    for (const auto& [b, e] : uncovered_ranges(blocks_, a.rows)) {
      ranges.push_back(b);
      ranges.push_back(e);
    }
    nranges_ = static_cast<int>(ranges.size() / 2);
    ranges_ = to_device(ranges);
  }

  void run_fused(const float* x, int f, float* y, bool acc, const Epilogue& ep) const override {
    if (rows_ == 0) return;
    if (!acc) zero_ranges(y, ranges_.as<std::int32_t>(), nranges_, f);
    const void* xin = x;
    if (bf16_ && !runs_.empty()) {  // X rounded to bf16 once per run
      const std::size_t n = static_cast<std::size_t>(rows_) * f;
      if (xb_.bytes() < n * 2) xb_ = DeviceBuffer(n * 2);
      to_bf16(x, xb_.as<void>(), n);
      xin = xb_.as<void>();
    }
    const std::size_t elem = bf16_ ? 2 : 4;
    const cudaDataType in_type = bf16_ ? CUDA_R_16BF : CUDA_R_32F;
    const cublasComputeType_t compute = bf16_ ? CUBLAS_COMPUTE_32F : CUBLAS_COMPUTE_32F_FAST_TF32;
    const float alpha = 1.f, beta = acc ? 1.f : 0.f;
    for (std::size_t i = 0; i < runs_.size(); ++i) {
      const BlockRun& r = runs_[i];
      // Row-major Y_b (s x F) = A_b (s x s) X_b (s x F) is, column-major, Y_b^T = X_b^T A_b^T.
      const char* xp =
          static_cast<const char*>(xin) + elem * static_cast<std::size_t>(r.first_begin) * f;
      const char* ap = dense_.as<const char>() + elem * run_offset_[i];
      float* yp = y + static_cast<std::size_t>(r.first_begin) * f;
      const long long sx = static_cast<long long>(r.stride) * f,
                      sa = static_cast<long long>(r.size) * r.size;
      check_cublas(
          cublasGemmStridedBatchedEx(cublas_handle(), CUBLAS_OP_N, CUBLAS_OP_N, f, r.size, r.size,
                                     &alpha, xp, in_type, f, sx, ap, in_type, r.size, sa, &beta, yp,
                                     CUDA_R_32F, f, sx, r.count, compute, CUBLAS_GEMM_DEFAULT),
          "cublasGemmStridedBatchedEx");
    }
    if (!ep.empty()) apply_epilogue(y, static_cast<std::size_t>(rows_), f, ep);
  }
  const char* name() const override { return bf16_ ? "dense-bf16" : "dense-tf32"; }
  std::size_t format_bytes() const override { return dense_.bytes() + ranges_.bytes(); }
  // bf16: unit roundoff 2^-9 on both operands. tf32: cuBLAS may pass FP32 bits to the tensor
  // cores, which then drop the low 13 mantissa bits (truncation, a one-sided error of up to
  // 2^-10 per operand), so the bound is twice the rounded tiles' 1e-3.
  double error_bound() const override { return bf16_ ? 1e-2 : 2e-3; }

 private:
  index_t rows_;
  bool bf16_;
  std::vector<BlockInfo> blocks_;
  std::vector<BlockRun> runs_;
  std::vector<std::size_t> run_offset_;
  DeviceBuffer dense_, ranges_;
  int nranges_ = 0;
  mutable DeviceBuffer xb_;
};

}  // namespace

std::unique_ptr<CudaKernel> make_tiles(const Subgraph& s) {
  return std::make_unique<TileKernel>(*s.a);
}

std::unique_ptr<CudaKernel> make_dense(const Subgraph& s, bool bf16) {
  return std::make_unique<DenseKernel>(*s.a, s.blocks, bf16);
}

}  // namespace gearbox::gnn::cuda::detail
