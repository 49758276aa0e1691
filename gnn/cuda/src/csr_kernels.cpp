// The CSR-format CUDA kernels: our SpMM ("csr") and our call of cusparseSpMM ("cusparse").
#include <cstdint>
#include <limits>

#include "device_csr.hpp"
#include "factories.hpp"
#include "handles.hpp"
#include "launch.hpp"

namespace gearbox::gnn::cuda::detail {

namespace {

class CsrCudaKernel final : public CudaKernel {
 public:
  CsrCudaKernel(const Csr& a, CsrVariant v, const char* name) : csr_(a, v), name_(name) {}
  void run_fused(const float* x, int f, float* y, bool acc, const Epilogue& ep) const override {
    csr_.spmm(x, f, y, acc, ep);
  }
  const char* name() const override { return name_; }
  std::size_t format_bytes() const override { return csr_.bytes(); }
  double error_bound() const override { return 1e-5; }

 private:
  DeviceCsr csr_;
  const char* name_;
};

// cusparseSpMM on the same CSR: 32-bit offsets when nnz allows (as a PyTorch/cuSPARSE user
// would have them), else 64-bit offsets and columns; row-major X and Y, default algorithm.
class CusparseKernel final : public CudaKernel {
 public:
  explicit CusparseKernel(const Csr& a) : rows_(a.rows), cols_(a.cols), nnz_(a.nnz()) {
    wide_ = nnz_ > std::numeric_limits<std::int32_t>::max();
    if (wide_) {
      rowptr_ = to_device(a.rowptr);
      std::vector<std::int64_t> c(a.col.begin(), a.col.end());
      col_ = to_device(c);
    } else {
      std::vector<std::int32_t> r(a.rowptr.begin(), a.rowptr.end());
      rowptr_ = to_device(r);
      col_ = to_device(a.col);
    }
    val_ = to_device(a.val);
    const cusparseIndexType_t it = wide_ ? CUSPARSE_INDEX_64I : CUSPARSE_INDEX_32I;
    check_cusparse(cusparseCreateCsr(&mat_, rows_, cols_, nnz_, rowptr_.as<void>(), col_.as<void>(),
                                     val_.as<void>(), it, it, CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F),
                   "cusparseCreateCsr");
  }
  ~CusparseKernel() override {
    if (mat_) cusparseDestroySpMat(mat_);
  }
  CusparseKernel(const CusparseKernel&) = delete;
  CusparseKernel& operator=(const CusparseKernel&) = delete;

  void run_fused(const float* x, int f, float* y, bool acc, const Epilogue& ep) const override {
    if (rows_ == 0) return;
    if (nnz_ == 0) {  // cuSPARSE need not accept an empty matrix: Y = 0 (+ Y) directly
      if (!acc)
        check_cuda(cudaMemsetAsync(y, 0, sizeof(float) * static_cast<std::size_t>(rows_) * f,
                                   current_stream()),
                   "cudaMemsetAsync");
      if (!ep.empty()) apply_epilogue(y, static_cast<std::size_t>(rows_), f, ep);
      return;
    }
    cusparseDnMatDescr_t xd = nullptr, yd = nullptr;
    check_cusparse(cusparseCreateDnMat(&xd, cols_, f, f, const_cast<float*>(x), CUDA_R_32F,
                                       CUSPARSE_ORDER_ROW),
                   "cusparseCreateDnMat");
    check_cusparse(cusparseCreateDnMat(&yd, rows_, f, f, y, CUDA_R_32F, CUSPARSE_ORDER_ROW),
                   "cusparseCreateDnMat");
    const float alpha = 1.f, beta = acc ? 1.f : 0.f;
    cusparseHandle_t h = cusparse_handle();
    std::size_t need = 0;
    check_cusparse(cusparseSpMM_bufferSize(h, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                           CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, mat_, xd,
                                           &beta, yd, CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, &need),
                   "cusparseSpMM_bufferSize");
    if (need > work_.bytes()) work_ = DeviceBuffer(need);
    check_cusparse(
        cusparseSpMM(h, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha,
                     mat_, xd, &beta, yd, CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, work_.as<void>()),
        "cusparseSpMM");
    cusparseDestroyDnMat(xd);
    cusparseDestroyDnMat(yd);
    if (!ep.empty()) apply_epilogue(y, static_cast<std::size_t>(rows_), f, ep);
  }
  const char* name() const override { return "cusparse"; }
  std::size_t format_bytes() const override {
    return rowptr_.bytes() + col_.bytes() + val_.bytes() + work_.bytes();
  }
  double error_bound() const override { return 1e-5; }

 private:
  index_t rows_, cols_;
  offset_t nnz_;
  bool wide_ = false;
  DeviceBuffer rowptr_, col_, val_;
  mutable DeviceBuffer work_;
  cusparseSpMatDescr_t mat_ = nullptr;
};

}  // namespace

std::unique_ptr<CudaKernel> make_csr(const Subgraph& s) {
  return std::make_unique<CsrCudaKernel>(*s.a, CsrVariant{}, "csr");
}

std::unique_ptr<CudaKernel> make_csr_narrow(const Subgraph& s) {
  return std::make_unique<CsrCudaKernel>(*s.a, CsrVariant{16, RowCap::kFairShare}, "csr-narrow");
}

std::unique_ptr<CudaKernel> make_csr_whole_rows(const Subgraph& s) {
  return std::make_unique<CsrCudaKernel>(*s.a, CsrVariant{32, RowCap::kWholeRows}, "csr-wholerows");
}

std::unique_ptr<CudaKernel> make_cusparse(const Subgraph& s) {
  return std::make_unique<CusparseKernel>(*s.a);
}

}  // namespace gearbox::gnn::cuda::detail
