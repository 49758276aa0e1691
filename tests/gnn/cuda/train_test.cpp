// GCN training on the device against the CPU trainer: the same seed draws the same masks and
// weights, so the first epochs' losses agree to rounding, and Cora is learnt as on the CPU.
// Skipped without a CUDA device or without the shared data.
#include <gtest/gtest.h>

#include <cmath>

#include "gearbox/core/cuda.hpp"
#include "gearbox/core/paths.hpp"
#include "gearbox/core/threads.hpp"
#include "gearbox/gnn/cuda/cuda_kernels.hpp"
#include "gearbox/gnn/cuda/device_plan.hpp"
#include "gearbox/gnn/cuda/gcn_cuda.hpp"
#include "gearbox/gnn/dataset.hpp"
#include "gearbox/gnn/kernels.hpp"

using namespace gearbox::gnn;

// Cora with its features, A_hat and the Kipf & Welling configuration (seed 3, no per-epoch
// evaluation); skips without a device or the shared data.
class CudaTraining : public ::testing::Test {
 protected:
  void SetUp() override {
    if (gearbox::cuda_devices().empty()) GTEST_SKIP() << "skipped: no CUDA device";
    if (!gearbox::data_dir()) GTEST_SKIP() << "skipped: no shared data (cora)";
    d = load_dataset("cora");
    ASSERT_GT(d.features.rows, 0);
    ahat = gcn_normalize(d.adj);
    fx = Features{&d.features, nullptr, d.features.cols};
    cfg.epochs = 200;
    cfg.hidden = 16;
    cfg.seed = 3;
    cfg.evaluate_each_epoch = false;
  }
  Dataset d;
  Csr ahat;
  Features fx;
  TrainConfig cfg;
};

TEST_F(CudaTraining, MatchesTheCpuTrainerAndLearnsCora) {
  gearbox::ThreadScope threads(2);
  const auto cpu_agg = [&](const float* x, int f, float* y) {
    spmm_reference(ahat, x, f, y, false);
  };
  const TrainResult cpu = train_gcn(d.nodes(), fx, d.labels, d.num_classes, d.train, d.val, d.test,
                                    cpu_agg, cfg, nullptr);

  cuda::register_cuda();
  auto kernel = find_kernel("csr", Device::kCuda).make(Subgraph{&ahat, {}});
  const auto dev_agg = [&](const float* x, int f, float* y) { kernel->run(x, f, y, false); };
  const TrainResult dev = cuda::train_gcn_device(d.nodes(), fx, d.labels, d.num_classes, d.train,
                                                 d.val, d.test, dev_agg, cfg, nullptr);
  ASSERT_EQ(dev.epochs.size(), cpu.epochs.size());
  for (int e = 0; e < 5; ++e)
    EXPECT_NEAR(dev.epochs[e].loss, cpu.epochs[e].loss, 1e-3 * std::abs(cpu.epochs[e].loss))
        << "epoch " << e + 1;
  EXPECT_LT(dev.epochs.back().loss, dev.epochs.front().loss);
  EXPECT_NEAR(dev.test_acc, cpu.test_acc, 0.02);
  EXPECT_GE(dev.test_acc, 0.78);
  std::printf("cora GCN: device test accuracy %.3f (CPU %.3f), epoch %.2f ms (CPU %.2f ms)\n",
              dev.test_acc, cpu.test_acc, dev.epoch_ms_median, cpu.epoch_ms_median);
}

TEST_F(CudaTraining, Tf32ProductsLearnCoraWithinOnePointOfFp32) {
  // Issue 17 item 3: the dense products on TF32 tensor cores where accuracy holds. Same seed,
  // same data: FP32 and TF32 runs of the device trainer, test accuracy within one point.
  cuda::register_cuda();
  auto kernel = find_kernel("csr", Device::kCuda).make(Subgraph{&ahat, {}});
  const auto dev_agg = [&](const float* x, int f, float* y) { kernel->run(x, f, y, false); };
  const TrainResult fp32 = cuda::train_gcn_device(d.nodes(), fx, d.labels, d.num_classes, d.train,
                                                  d.val, d.test, dev_agg, cfg, nullptr);
  cfg.tf32 = true;
  const TrainResult tf32 = cuda::train_gcn_device(d.nodes(), fx, d.labels, d.num_classes, d.train,
                                                  d.val, d.test, dev_agg, cfg, nullptr);
  EXPECT_LT(tf32.epochs.back().loss, tf32.epochs.front().loss);
  EXPECT_NEAR(tf32.test_acc, fp32.test_acc, 0.01);
  std::printf("cora GCN on the device: test accuracy FP32 %.3f, TF32 %.3f; epoch %.3f / %.3f ms\n",
              fp32.test_acc, tf32.test_acc, fp32.epoch_ms_median, tf32.epoch_ms_median);
}
