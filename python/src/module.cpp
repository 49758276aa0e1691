// gearbox_gnn._C: the Python face of gnn::MatrixPlan. A Plan is built from the adjacency as
// COO tensors (row = target node, col = source node, value), duplicates summed; run() is
// Y = A X (or A^T X) on float32 tensors of the plan's device (CPU, or the GPU in a build with
// CUDA: the same MatrixPlan built for Device::kCuda). The operator torch.ops.gearbox_gnn.spmm
// (CPU, CUDA and autograd kernels) is registered in C++ (spmm_op.cpp, spmm_cuda.cpp); its fake
// implementation and the input checks that name the user's arguments live in the Python package
// (gearbox_gnn/_ops.py); the checks here are the last line against a crash.
#include <torch/extension.h>

#include <chrono>
#include <limits>
#include <memory>
#include <string>

#include "gearbox/core/error.hpp"
#include "gearbox/core/threads.hpp"
#include "gearbox/gnn/csr.hpp"
#include "gearbox/gnn/dataset.hpp"
#include "gearbox/gnn/matrix_plan.hpp"
#include "output_pool.hpp"
#include "spmm_op.hpp"

namespace py = pybind11;
using gearbox::gnn::index_t;

namespace {

// Whether this build has the CUDA kernels (and the op's CUDA kernel).
constexpr bool cuda_built() {
#ifdef GEARBOX_PY_CUDA
  return true;
#else
  return false;
#endif
}

// A plan over an n-node adjacency given as COO for one device; see gnn::MatrixPlan.
class Plan {
 public:
  Plan(const torch::Tensor& row, const torch::Tensor& col, const torch::Tensor& val, int64_t n,
       int64_t feature_width, const std::string& reorder, int64_t max_block, int64_t seed,
       int64_t threads, bool use_cache, const std::string& name, const std::string& device) {
    const c10::Device dev = parse_device(device);
    TORCH_CHECK_VALUE(n >= 0 && n < std::numeric_limits<index_t>::max(),
                      "num_nodes must be in [0, 2^31-1), got ", n);
    TORCH_CHECK_VALUE(feature_width >= 1 && feature_width <= (1 << 16),
                      "feature_width must be in [1, 65536], got ", feature_width);
    TORCH_CHECK_VALUE(max_block >= 8 && max_block <= 4096, "block must be in [8, 4096], got ",
                      max_block);
    for (const auto* t : {&row, &col})
      TORCH_CHECK_TYPE(t->scalar_type() == torch::kLong && t->dim() == 1 && t->device().is_cpu(),
                       "adjacency indices must be 1-D int64 CPU tensors");
    TORCH_CHECK_TYPE(val.scalar_type() == torch::kFloat && val.dim() == 1 && val.device().is_cpu(),
                     "adjacency values must be a 1-D float32 CPU tensor");
    TORCH_CHECK_VALUE(row.numel() == col.numel() && row.numel() == val.numel(),
                      "adjacency indices and values differ in length");
    const auto r = row.contiguous(), c = col.contiguous();
    const auto v = val.contiguous();
    const int64_t* rp = r.data_ptr<int64_t>();
    const int64_t* cp = c.data_ptr<int64_t>();
    const float* vp = v.data_ptr<float>();
    gearbox::gnn::Coo coo;
    coo.rows = coo.cols = static_cast<index_t>(n);
    const auto e = static_cast<std::size_t>(r.numel());
    coo.row.resize(e);
    coo.col.resize(e);
    coo.val.assign(vp, vp + e);
    for (std::size_t k = 0; k < e; ++k) {
      TORCH_CHECK_VALUE(rp[k] >= 0 && rp[k] < n && cp[k] >= 0 && cp[k] < n,
                        "adjacency index out of range: edge ", k, " is (", cp[k], " -> ", rp[k],
                        ") with num_nodes ", n);
      coo.row[k] = static_cast<index_t>(rp[k]);
      coo.col[k] = static_cast<index_t>(cp[k]);
    }
    gearbox::gnn::MatrixPlanOptions opt;
    opt.name = name;
    opt.reorder = gearbox::gnn::parse_reorder(reorder);
    opt.max_block = static_cast<int>(max_block);
    opt.seed = static_cast<std::uint64_t>(seed);
    opt.threads = static_cast<int>(threads);
    opt.selector.use_cache = use_cache;
    py::gil_scoped_release nogil;
    gearbox::ThreadScope scope(opt.threads);
    auto csr = gearbox::gnn::coo_to_csr(coo, gearbox::gnn::Duplicates::kSum);
    if (dev.is_cpu()) {
      plan_ = std::make_shared<gearbox::gnn::MatrixPlan>(std::move(csr),
                                                         static_cast<int>(feature_width), opt);
    } else {
#ifdef GEARBOX_PY_CUDA
      plan_ = gearbox_py::make_cuda_plan(std::move(csr), static_cast<int>(feature_width), opt,
                                         dev.index());
#endif
    }
    device_ = dev;
    id_ = gearbox_py::register_plan(plan_, dev);
  }
  ~Plan() {
    gearbox_py::unregister_plan(id_);
  }
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  torch::Tensor run(const torch::Tensor& x, bool transpose) {  // CPU plans (the benchmark's)
    py::gil_scoped_release nogil;
    return gearbox_py::run_plan(*plan_, x, transpose, "x");
  }

  // The same product as a C++ training loop makes it: MatrixPlan::run from x into y (both
  // given, y reused), `calls` times back to back, timed in C++ around the whole loop; mean ms
  // per call. For the benchmark of the extension's overhead (bench/gnn/torch_bench.py).
  double run_loop_ms(const torch::Tensor& x, const torch::Tensor& y, bool transpose,
                     int64_t calls) {
    TORCH_CHECK_VALUE(device_.is_cpu(), "run_loop_ms times CPU plans only");
    TORCH_CHECK_VALUE(calls >= 1 && calls <= 1000000, "calls must be in [1, 1000000], got ", calls);
    for (const auto* t : {&x, &y})
      TORCH_CHECK_VALUE(t->scalar_type() == torch::kFloat && t->device().is_cpu() &&
                            t->is_contiguous() && t->dim() == 2 && t->size(0) == plan_->nodes() &&
                            t->size(1) == x.size(1) && x.size(1) >= 1 && x.size(1) <= (1 << 16),
                        "x and y must be contiguous float32 CPU tensors [num_nodes, F]");
    const int threads = at::get_num_threads();
    py::gil_scoped_release nogil;
    gearbox::ThreadScope scope(threads);
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < calls; ++i)
      plan_->run(x.data_ptr<float>(), static_cast<int>(x.size(1)), y.data_ptr<float>(), transpose);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
               .count() /
           static_cast<double>(calls);
  }

  std::string explain(int64_t f) {
    py::gil_scoped_release nogil;
    return plan_->text(static_cast<int>(f));
  }
  std::string explain_json(int64_t f) {
    py::gil_scoped_release nogil;
    return plan_->document(static_cast<int>(f)).dump();
  }
  double kernel_ms(int64_t f, int64_t reps) {
    TORCH_CHECK_VALUE(f >= 1 && f <= (1 << 16) && reps >= 1, "bad width or reps");
    TORCH_CHECK_VALUE(device_.is_cpu(), "kernel_ms times CPU plans only");
    const int threads = at::get_num_threads();
    py::gil_scoped_release nogil;
    gearbox::ThreadScope scope(threads);
    return plan_->kernel_ms(static_cast<int>(f), static_cast<int>(reps));
  }
  std::string kernels() const {
    return plan_->kernels().dump();
  }
  int64_t nodes() const {
    return plan_->nodes();
  }
  int64_t nnz() const {
    return plan_->nnz();
  }
  int64_t feature_width() const {
    return plan_->feature_width();
  }
  bool symmetric() const {
    return plan_->symmetric();
  }
  int64_t id() const {
    return id_;
  }
  std::string device() const {
    return device_.str();
  }

 private:
  // "cpu" or "cuda:N" (the Python side resolves "cuda" to the current device's index).
  static c10::Device parse_device(const std::string& d) {
    const c10::Device dev(d);  // c10::Error for a string torch does not know as a device
    TORCH_CHECK_VALUE(dev.is_cpu() || (dev.is_cuda() && dev.has_index()),
                      "gearbox_gnn.plan(): argument 'device' must be cpu or cuda:N, got ", d);
    TORCH_CHECK(dev.is_cpu() || cuda_built(), "gearbox_gnn.plan(): argument 'device' is ", d,
                " but this gearbox_gnn was built without CUDA (rebuild it where nvcc and a "
                "CUDA build of torch are installed)");
    return dev;
  }

  std::shared_ptr<gearbox::gnn::MatrixPlan> plan_;
  c10::Device device_ = c10::Device(c10::DeviceType::CPU);
  int64_t id_ = 0;
};

// The graph `gearbox gnn --graph spec` reads (a shared graph's name, a path, or an sbm:/rmat:
// generator spec) as PyG's edge_index (both directions, no self loops) and its node count.
py::tuple load_graph(const std::string& spec) {
  gearbox::gnn::Dataset d;
  {
    py::gil_scoped_release nogil;
    gearbox::gnn::LoadOptions lo;
    lo.features = false;
    d = gearbox::gnn::load_dataset(spec, lo);
  }
  const auto& a = d.adj;
  auto ei = torch::empty({2, a.nnz()}, torch::kLong);
  auto src = ei[0], dst = ei[1];
  int64_t* s = src.data_ptr<int64_t>();
  int64_t* t = dst.data_ptr<int64_t>();
  for (index_t r = 0; r < a.rows; ++r)
    for (auto k = a.rowptr[r]; k < a.rowptr[r + 1]; ++k) {
      s[k] = a.col[k];
      t[k] = r;
    }
  return py::make_tuple(ei, static_cast<int64_t>(a.rows));
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "gearbox gnn (AdaptGear) kernels for PyTorch";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const gearbox::Error& e) {
      PyErr_SetString(
          e.kind() == gearbox::ErrorKind::kRuntime ? PyExc_RuntimeError : PyExc_ValueError,
          e.what());
    } catch (const c10::TypeError& e) {  // TORCH_CHECK_TYPE: torch's own translators may not
      PyErr_SetString(PyExc_TypeError, e.what_without_backtrace());  // reach this module
    } catch (const c10::ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what_without_backtrace());
    } catch (const c10::Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what_without_backtrace());
    }
  });
  m.def("load_graph", &load_graph, py::arg("spec"));
  m.def("cuda_built", &cuda_built);
  // torch.ops.gearbox_gnn.spmm through the dispatcher without the Python operator lookup.
  m.def("spmm", &gearbox_py::call_spmm, py::arg("x"), py::arg("plan"), py::arg("transpose"),
        py::call_guard<py::gil_scoped_release>());
  m.def("empty_cache", &gearbox_py::release_cached);
  m.def("cached_output_bytes", &gearbox_py::cached_bytes);
  m.def("output_cache_limit", &gearbox_py::cache_limit);
  py::class_<Plan>(m, "Plan")
      .def(py::init<const torch::Tensor&, const torch::Tensor&, const torch::Tensor&, int64_t,
                    int64_t, const std::string&, int64_t, int64_t, int64_t, bool,
                    const std::string&, const std::string&>(),
           py::arg("row"), py::arg("col"), py::arg("val"), py::arg("num_nodes"),
           py::arg("feature_width"), py::arg("reorder"), py::arg("block"), py::arg("seed"),
           py::arg("threads"), py::arg("use_cache"), py::arg("name"), py::arg("device"))
      .def("run", &Plan::run, py::arg("x"), py::arg("transpose"))
      .def("run_loop_ms", &Plan::run_loop_ms, py::arg("x"), py::arg("y"), py::arg("transpose"),
           py::arg("calls"))
      .def("explain", &Plan::explain, py::arg("width"))
      .def("explain_json", &Plan::explain_json, py::arg("width"))
      .def("kernels", &Plan::kernels)
      .def("kernel_ms", &Plan::kernel_ms, py::arg("width"), py::arg("reps"))
      .def_property_readonly("id", &Plan::id)
      .def_property_readonly("device", &Plan::device)
      .def_property_readonly("num_nodes", &Plan::nodes)
      .def_property_readonly("nnz", &Plan::nnz)
      .def_property_readonly("feature_width", &Plan::feature_width)
      .def_property_readonly("symmetric", &Plan::symmetric);
}
