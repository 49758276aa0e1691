// GCN training on the device (see gcn_cuda.hpp): the steps of gcn.cpp's model with every
// array on the GPU, driven by the shared epoch loop (train_loop.hpp); cuBLAS SGEMMs (row-major
// through the transposed column-major call), our CSR SpMM for sparse features (values re-masked
// each epoch), small kernels for the rest.
#include "gearbox/gnn/cuda/gcn_cuda.hpp"

#include <cmath>
#include <memory>

#include "device_csr.hpp"
#include "gcn_launch.hpp"
#include "gearbox/core/error.hpp"
#include "gearbox/gnn/cuda/cuda_kernels.hpp"
#include "gearbox/gnn/random_init.hpp"
#include "gearbox/gnn/train_loop.hpp"
#include "handles.hpp"
#include "launch.hpp"

namespace gearbox::gnn::cuda {

namespace {

using detail::check_cublas;
using detail::check_cuda;

// c[m x n] = op(a) op(b), row-major (the column-major call computes c^T): FP32, or with tf32
// FP32 data multiplied on TF32 tensor cores with FP32 accumulation.
void gemm(bool tf32, bool ta, bool tb, int m, int n, int k, const float* a, const float* b,
          float* c) {
  const float one = 1.f, zero = 0.f;
  const cublasOperation_t opa = tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                          opb = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (!tf32) {
    check_cublas(cublasSgemm(detail::cublas_handle(), opa, opb, n, m, k, &one, b, tb ? k : n, a,
                             ta ? m : k, &zero, c, n),
                 "cublasSgemm");
    return;
  }
  check_cublas(cublasGemmEx(detail::cublas_handle(), opa, opb, n, m, k, &one, b, CUDA_R_32F,
                            tb ? k : n, a, CUDA_R_32F, ta ? m : k, &zero, c, CUDA_R_32F, n,
                            CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT),
               "cublasGemmEx (TF32)");
}

DeviceBuffer floats(std::size_t n) {
  return DeviceBuffer(n * sizeof(float));
}

}  // namespace

TrainResult train_gcn_device(index_t nodes, const Features& x,
                             const std::vector<std::int32_t>& labels, int classes,
                             const std::vector<index_t>& train, const std::vector<index_t>& val,
                             const std::vector<index_t>& test, const AggregateFn& aggregate,
                             const TrainConfig& cfg, std::ostream* progress) {
  if ((x.sparse == nullptr) == (x.dense == nullptr))
    throw Error::usage("train_gcn_device: give exactly one of sparse or dense features");
  check_training_inputs(nodes, labels, classes, train);
  const std::size_t n = static_cast<std::size_t>(nodes);
  const int in = x.in_dim, hid = cfg.hidden, out = classes;
  const float p = cfg.dropout, keep_scale = p < 1 ? 1.0f / (1.0f - p) : 0.0f;

  DeviceBuffer w1 =
      to_device(glorot_uniform(static_cast<std::size_t>(in) * hid, in, hid, cfg.seed, 1));
  DeviceBuffer w2 =
      to_device(glorot_uniform(static_cast<std::size_t>(hid) * out, hid, out, cfg.seed, 2));
  const std::size_t nw1 = static_cast<std::size_t>(in) * hid,
                    nw2 = static_cast<std::size_t>(hid) * out;
  DeviceBuffer m1 = floats(nw1), v1 = floats(nw1), m2 = floats(nw2), v2 = floats(nw2);
  m1.fill_bytes(0);
  v1.fill_bytes(0);
  m2.fill_bytes(0);
  v2.fill_bytes(0);

  // Features: sparse (working copy with masked values, its transpose and the map between
  // them) or dense (original and masked copy).
  std::unique_ptr<detail::DeviceCsr> xd, xt;
  DeviceBuffer x_val0, t2x, x_dense0, x_dense;
  if (x.sparse) {
    xd = std::make_unique<detail::DeviceCsr>(*x.sparse);
    x_val0 = to_device(x.sparse->val);
    Csr pos = *x.sparse;
    for (std::size_t k = 0; k < pos.val.size(); ++k) pos.val[k] = static_cast<float>(k);
    Csr tr = transpose(pos);
    std::vector<std::int64_t> map(tr.val.size());
    for (std::size_t k = 0; k < tr.val.size(); ++k) map[k] = static_cast<std::int64_t>(tr.val[k]);
    t2x = to_device(map);
    xt = std::make_unique<detail::DeviceCsr>(tr);
  } else {
    x_dense0 = DeviceBuffer(x.dense, n * in * sizeof(float));
    x_dense = floats(n * in);
  }
  DeviceBuffer d_labels = to_device(labels);
  DeviceBuffer d_train = to_device(train), d_val = to_device(val), d_test = to_device(test);

  DeviceBuffer xw = floats(n * hid), h1pre = floats(n * hid), h1 = floats(n * hid),
               hw = floats(n * out), z = floats(n * out), dz = floats(n * out),
               dhw = floats(n * out), dh1 = floats(n * hid), dxw = floats(n * hid),
               gw1 = floats(nw1), gw2 = floats(nw2), mask(n * hid);
  DeviceBuffer stats(sizeof(double) * 2 + sizeof(int) * 2);  // loss, l2, correct, spare
  double* d_loss = stats.as<double>();
  double* d_l2 = d_loss + 1;
  int* d_correct = reinterpret_cast<int*>(d_loss + 2);

  cudaEvent_t ev[8];
  for (auto& e : ev) check_cuda(cudaEventCreate(&e), "cudaEventCreate");
  int agg_calls = 0;
  auto agg = [&](const float* xin, int f, float* y) {
    if (agg_calls < 4) cudaEventRecord(ev[2 * agg_calls]);
    aggregate(xin, f, y);
    if (agg_calls < 4) cudaEventRecord(ev[2 * agg_calls + 1]);
    ++agg_calls;
  };
  auto forward = [&](bool training, int epoch) {
    const std::uint64_t s_in = 100 + 2 * static_cast<std::uint64_t>(epoch), s_h = s_in + 1;
    if (x.sparse) {
      if (training && p > 0)
        detail::dropout_copy(x_val0.as<float>(), xd->val.as<float>(), xd->nnz, cfg.seed, s_in, p,
                             keep_scale);
      else
        check_cuda(cudaMemcpyAsync(xd->val.as<void>(), x_val0.as<void>(), xd->nnz * sizeof(float),
                                   cudaMemcpyDeviceToDevice),
                   "cudaMemcpyAsync");
      xd->spmm(w1.as<float>(), hid, xw.as<float>(), false);
    } else {
      const float* src = x_dense0.as<float>();
      if (training && p > 0) {
        detail::dropout_copy(src, x_dense.as<float>(), n * in, cfg.seed, s_in, p, keep_scale);
        src = x_dense.as<float>();
      }
      gemm(cfg.tf32, false, false, nodes, hid, in, src, w1.as<float>(), xw.as<float>());
    }
    agg(xw.as<float>(), hid, h1pre.as<float>());
    detail::relu_dropout(h1pre.as<float>(), h1.as<float>(), mask.as<std::uint8_t>(), n * hid,
                         cfg.seed, s_h, p, keep_scale, training);
    gemm(cfg.tf32, false, false, nodes, out, hid, h1.as<float>(), w2.as<float>(), hw.as<float>());
    agg(hw.as<float>(), out, z.as<float>());
  };
  auto count_correct = [&](const DeviceBuffer& ids, std::size_t count) {
    if (count == 0) return 0.0;
    int zero = 0, got = 0;
    check_cuda(cudaMemcpy(d_correct, &zero, sizeof(int), cudaMemcpyHostToDevice), "cudaMemcpy");
    detail::softmax_xent(z.as<float>(), out, d_labels.as<std::int32_t>(), ids.as<std::int32_t>(),
                         static_cast<std::int64_t>(count), 0.f, nullptr, nullptr, d_correct);
    check_cuda(cudaMemcpy(&got, d_correct, sizeof(int), cudaMemcpyDeviceToHost), "cudaMemcpy");
    return static_cast<double>(got);
  };
  auto labelled = [&](const std::vector<index_t>& ids) {
    std::size_t c = 0;
    for (index_t i : ids) c += labels[i] >= 0;
    return static_cast<double>(c);
  };
  const double n_train = labelled(train), n_val = labelled(val), n_test = labelled(test);
  auto acc = [](double ok, double count) { return count > 0 ? ok / count : 0.0; };

  double agg_ms = 0;
  const float inv_train = 1.0f / static_cast<float>(train.size());
  float b1t = 1.f, b2t = 1.f;
  TrainSteps steps;
  steps.train_epoch = [&](int epoch) {
    agg_calls = 0;
    forward(true, epoch);
    check_cuda(cudaMemsetAsync(dz.as<void>(), 0, n * out * sizeof(float)), "cudaMemsetAsync");
    check_cuda(cudaMemsetAsync(stats.as<void>(), 0, stats.bytes()), "cudaMemsetAsync");
    detail::softmax_xent(z.as<float>(), out, d_labels.as<std::int32_t>(),
                         d_train.as<std::int32_t>(), static_cast<std::int64_t>(train.size()),
                         inv_train, dz.as<float>(), d_loss, d_correct);
    detail::sum_squares(w1.as<float>(), nw1, d_l2);
    // Backward: the aggregation's transpose is itself (A_hat symmetric).
    agg(dz.as<float>(), out, dhw.as<float>());
    gemm(cfg.tf32, true, false, hid, out, nodes, h1.as<float>(), dhw.as<float>(), gw2.as<float>());
    gemm(cfg.tf32, false, true, nodes, hid, out, dhw.as<float>(), w2.as<float>(), dh1.as<float>());
    detail::relu_dropout_backward(dh1.as<float>(), h1pre.as<float>(), mask.as<std::uint8_t>(),
                                  n * hid, p > 0 ? keep_scale : 1.0f);
    agg(dh1.as<float>(), hid, dxw.as<float>());
    if (x.sparse) {
      detail::gather_values(xd->val.as<float>(), t2x.as<std::int64_t>(), xt->val.as<float>(),
                            xt->nnz);
      xt->spmm(dxw.as<float>(), hid, gw1.as<float>(), false);
    } else {
      gemm(cfg.tf32, true, false, in, hid, nodes,
           p > 0 ? x_dense.as<float>() : x_dense0.as<float>(), dxw.as<float>(), gw1.as<float>());
    }
    b1t *= 0.9f;
    b2t *= 0.999f;
    detail::adam_step(w1.as<float>(), gw1.as<float>(), m1.as<float>(), v1.as<float>(), nw1, cfg.lr,
                      1 - b1t, 1 - b2t, cfg.weight_decay);
    detail::adam_step(w2.as<float>(), gw2.as<float>(), m2.as<float>(), v2.as<float>(), nw2, cfg.lr,
                      1 - b1t, 1 - b2t, 0.f);
    double host_stats[2] = {0, 0};
    int correct = 0;
    check_cuda(cudaMemcpy(host_stats, d_loss, sizeof(host_stats), cudaMemcpyDeviceToHost),
               "cudaMemcpy");  // waits for the epoch
    check_cuda(cudaMemcpy(&correct, d_correct, sizeof(int), cudaMemcpyDeviceToHost), "cudaMemcpy");
    for (int i = 0; i < 4; ++i) {
      float t = 0;
      cudaEventElapsedTime(&t, ev[2 * i], ev[2 * i + 1]);
      agg_ms += t;
    }
    const double loss = host_stats[0] * inv_train + cfg.weight_decay * 0.5 * host_stats[1];
    return std::make_pair(loss, acc(correct, n_train));
  };
  steps.evaluate = [&] { forward(false, 0); };
  steps.accuracy = [&](Split s) {
    if (s == Split::kTrain) return acc(count_correct(d_train, train.size()), n_train);
    if (s == Split::kVal) return acc(count_correct(d_val, val.size()), n_val);
    return acc(count_correct(d_test, test.size()), n_test);
  };
  TrainResult res = run_epochs(steps, cfg, progress);
  res.aggregate_ms_total = agg_ms;
  for (auto& e : ev) cudaEventDestroy(e);
  return res;
}

}  // namespace gearbox::gnn::cuda
