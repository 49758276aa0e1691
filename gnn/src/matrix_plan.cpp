#include "gearbox/gnn/matrix_plan.hpp"

#include <algorithm>
#include <sstream>

#include "gearbox/core/error.hpp"
#include "gearbox/core/stats.hpp"
#include "gearbox/gnn/device_registry.hpp"
#include "gearbox/gnn/plan_report.hpp"

namespace gearbox::gnn {

namespace {

bool same_matrix(const Csr& a, const Csr& b) {
  return a.rows == b.rows && a.cols == b.cols && a.rowptr == b.rowptr && a.col == b.col &&
         a.val == b.val;
}

}  // namespace

MatrixPlan::MatrixPlan(Csr a, int feature_width, MatrixPlanOptions opt) : opt_(std::move(opt)) {
  if (a.rows != a.cols)
    throw Error::input("the adjacency must be square")
        .expected("rows == cols")
        .found(std::to_string(a.rows) + " x " + std::to_string(a.cols));
  if (feature_width < 1)
    throw Error::usage("feature width must be positive")
        .field("feature_width")
        .found(std::to_string(feature_width));
  n_ = a.rows;
  nnz_ = a.nnz();
  width_ = feature_width;
  order_ = compute_ordering(symmetrize_pattern(a), opt_.reorder, opt_.max_block, opt_.seed);
  for (index_t i = 0; i < n_ && identity_; ++i) identity_ = order_.new_of_old[i] == i;
  Csr p = identity_ ? std::move(a) : permute_symmetric(a, order_.new_of_old);
  symmetric_ = same_matrix(p, transpose(p));
  planned_ = std::make_shared<const Csr>(std::move(p));
  if (!identity_) {  // X and Y stay in the caller's order: the kernels map rows (ExecPlan)
    std::vector<index_t> old_of_new(static_cast<std::size_t>(n_));
    for (index_t i = 0; i < n_; ++i) old_of_new[order_.new_of_old[i]] = i;
    caller_ = std::make_shared<const std::vector<index_t>>(std::move(old_of_new));
  }
  fwd_ = std::make_unique<AdaptiveAggregator>(planned_, order_.block_starts, opt_.selector,
                                              opt_.threads, caller_);
  if (n_ == 0) return;
  fwd_->plan_for(width_);
  if (device() != Device::kCpu && device_support(device()).synchronize)
    device_support(device()).synchronize();  // the device's preparation finished
}

AdaptiveAggregator& MatrixPlan::aggregator(bool transpose) {
  if (!transpose || symmetric_) return *fwd_;
  if (!bwd_)
    bwd_ = std::make_unique<AdaptiveAggregator>(
        std::make_shared<const Csr>(gnn::transpose(*planned_)), order_.block_starts, opt_.selector,
        opt_.threads, caller_);
  return *bwd_;
}

void MatrixPlan::run(const float* x, int f, float* y, bool transpose, void* stream) {
  std::lock_guard lock(mu_);
  AdaptiveAggregator& agg = aggregator(transpose);
  if (n_ == 0) return;
  const Device d = device();
  if (d == Device::kCpu) {
    agg.run(x, f, y);
    return;
  }
  const DeviceSupport& support = device_support(d);
  if (!agg.has_plan(f)) {  // select and prepare on the default stream, done before `stream`
    agg.plan_for(f);
    if (support.synchronize) support.synchronize();
  }
  if (stream != last_stream_) {  // the previous stream's runs still use the scratch buffers
    if (support.synchronize) support.synchronize();
    last_stream_ = stream;
  }
  const DeviceStreamScope scope(d, stream);
  agg.run(x, f, y);
}

double MatrixPlan::kernel_ms(int f, int reps) {
  if (device() != Device::kCpu)
    throw Error::usage("kernel_ms times CPU plans only")
        .field("device")
        .found(device_name(device()));
  std::lock_guard lock(mu_);
  const std::size_t size = static_cast<std::size_t>(n_) * f;
  std::vector<float> x(size, 0.5f), y(size);
  fwd_->run(x.data(), f, y.data());  // selects for f when new; warm-up
  std::vector<double> ms;
  for (int r = 0; r < std::max(1, reps); ++r) {
    Stopwatch w;
    fwd_->run(x.data(), f, y.data());
    ms.push_back(w.ms());
  }
  return summarize(ms).median;
}

nlohmann::json MatrixPlan::document(int f) {
  std::lock_guard lock(mu_);
  return plan_document(opt_.name, reorder_name(opt_.reorder), order_, *fwd_, f > 0 ? f : width_,
                       opt_.threads);
}

std::string MatrixPlan::text(int f) {
  const nlohmann::json doc = document(f);
  std::ostringstream out;
  write_plan_text(out, doc);
  return out.str();
}

nlohmann::json MatrixPlan::kernels() const {
  std::lock_guard lock(mu_);
  if (!bwd_) return fwd_->kernels();
  return {{"forward", fwd_->kernels()}, {"transpose", bwd_->kernels()}};
}

}  // namespace gearbox::gnn
