#include "spmm_op.hpp"

#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>

#include <omp.h>

#include <mutex>
#include <unordered_map>

#include "gearbox/core/threads.hpp"
#include "output_pool.hpp"

namespace gearbox_py {
namespace {

class PlanRegistry {
 public:
  int64_t add(const std::shared_ptr<gearbox::gnn::MatrixPlan>& plan, c10::Device device) {
    std::lock_guard lock(mu_);
    const int64_t id = next_++;
    plans_.emplace(id, Entry{plan, device});
    return id;
  }
  void remove(int64_t id) {
    std::lock_guard lock(mu_);
    plans_.erase(id);
  }
  RegisteredPlan find(int64_t id) {
    std::lock_guard lock(mu_);
    auto it = plans_.find(id);
    if (it == plans_.end()) return {};
    return {it->second.plan.lock(), it->second.device};
  }

 private:
  struct Entry {
    std::weak_ptr<gearbox::gnn::MatrixPlan> plan;
    c10::Device device;
  };
  std::mutex mu_;
  int64_t next_ = 1;
  std::unordered_map<int64_t, Entry> plans_;
};

// The kernels run with torch's intra-op thread count (torch.set_num_threads). Applied when it
// changes rather than by a ThreadScope per call: setting and restoring the OpenMP and OpenBLAS
// counts around every call costs more than a small graph's aggregation gains from it.
void use_torch_threads() {
  thread_local int applied = 0;
  const int n = at::get_num_threads();
  if (n != applied || omp_get_max_threads() != n) {
    gearbox::set_threads(n);
    applied = n;
  }
}

PlanRegistry& registry() {
  static auto* r = new PlanRegistry();  // never destroyed (plans may die at shutdown)
  return *r;
}

torch::Tensor spmm_cpu(const torch::Tensor& x, int64_t plan_id, bool transpose) {
  const RegisteredPlan p = find_plan(plan_id);
  check_input(*p.plan, p.device, x, "gearbox_gnn.spmm(): argument 'x'");
  return run_plan(*p.plan, x, transpose, "gearbox_gnn.spmm(): argument 'x'");
}

const c10::TypedOperatorHandle<torch::Tensor(const torch::Tensor&, int64_t, bool)>& spmm_op() {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("gearbox_gnn::spmm", "")
                             .typed<torch::Tensor(const torch::Tensor&, int64_t, bool)>();
  return op;
}

// d(A x)/dx applied to g is A^T g: the same op with transpose flipped, through the dispatcher
// (so double backward records again when the engine runs with create_graph). A plain Node
// holding the two integers: torch::autograd::Function's node, with its saved-data map and
// per-input bookkeeping, cost 1.5 us per call more (measured on a 2-node graph).
class SpmmBackward final : public torch::autograd::Node {
 public:
  SpmmBackward(int64_t plan_id, bool transpose) : plan_id_(plan_id), transpose_(transpose) {}
  torch::autograd::variable_list apply(torch::autograd::variable_list&& grads) override {
    if (!grads[0].defined()) return {torch::Tensor()};
    return {spmm_op().call(grads[0], plan_id_, !transpose_)};
  }
  std::string name() const override { return "gearbox_gnn::SpmmBackward"; }

 private:
  int64_t plan_id_;
  bool transpose_;
};

// The product below the autograd key; with a gradient to record (grad mode on, x requiring
// grad) the output's history is an SpmmBackward node whose one edge leads to x's.
torch::Tensor spmm_autograd(const torch::Tensor& x, int64_t plan_id, bool transpose) {
  torch::Tensor y;
  {
    at::AutoDispatchBelowADInplaceOrView guard;
    y = spmm_op().call(x, plan_id, transpose);
  }
  if (!at::GradMode::is_enabled() || !x.requires_grad()) return y;
  auto node = c10::make_intrusive<SpmmBackward>(plan_id, transpose);
  node->set_next_edges(torch::autograd::collect_next_edges(x));
  torch::autograd::set_history(y, node);
  return y;
}

}  // namespace

int64_t register_plan(const std::shared_ptr<gearbox::gnn::MatrixPlan>& plan, c10::Device device) {
  return registry().add(plan, device);
}

RegisteredPlan find_plan(int64_t id) {
  RegisteredPlan p = registry().find(id);
  TORCH_CHECK_VALUE(p.plan != nullptr, "gearbox_gnn.spmm(): argument 'plan' (id ", id,
                    ") is no longer alive; keep a reference to the Plan while using it");
  return p;
}

void check_input(const gearbox::gnn::MatrixPlan& plan, c10::Device device, const torch::Tensor& x,
                 const char* who) {
  TORCH_CHECK_VALUE(x.device() == device, who, " is on ", x.device(),
                    " but argument 'plan' was built for ", device);
  TORCH_CHECK_TYPE(x.scalar_type() == torch::kFloat, who, " must be float32, got ",
                   x.scalar_type());
  TORCH_CHECK_VALUE(x.dim() == 2 && x.size(0) == plan.nodes(), who,
                    " must have shape [num_nodes=", plan.nodes(), ", F], got ", x.sizes());
  TORCH_CHECK_VALUE(x.size(1) >= 1 && x.size(1) <= (1 << 16), who,
                    "'s width must be in [1, 65536], got ", x.size(1));
}

void unregister_plan(int64_t id) {
  registry().remove(id);
}

torch::Tensor run_plan(gearbox::gnn::MatrixPlan& plan, const torch::Tensor& x, bool transpose,
                       const char* who) {
  check_input(plan, c10::Device(c10::DeviceType::CPU), x, who);
  TORCH_CHECK_VALUE(plan.device() == gearbox::gnn::Device::kCpu, who,
                    " is on the CPU but argument 'plan' was built for ",
                    gearbox::gnn::device_name(plan.device()));
  const auto xc = x.contiguous();
  auto y = pooled_empty(plan.nodes(), x.size(1));
  if (plan.nodes() == 0) return y;
  use_torch_threads();
  plan.run(xc.data_ptr<float>(), static_cast<int>(x.size(1)), y.data_ptr<float>(), transpose);
  return y;
}

torch::Tensor call_spmm(const torch::Tensor& x, int64_t plan_id, bool transpose) {
  return spmm_op().call(x, plan_id, transpose);
}

}  // namespace gearbox_py

TORCH_LIBRARY(gearbox_gnn, m) {
  m.set_python_module("gearbox_gnn._ops");  // where its fake (meta) implementation lives
  m.def("spmm(Tensor x, int plan, bool transpose) -> Tensor");
}

TORCH_LIBRARY_IMPL(gearbox_gnn, CPU, m) {
  m.impl("spmm", &gearbox_py::spmm_cpu);
}

TORCH_LIBRARY_IMPL(gearbox_gnn, Autograd, m) {
  m.impl("spmm", &gearbox_py::spmm_autograd);
}
