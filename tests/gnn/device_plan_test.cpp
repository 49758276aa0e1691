// MatrixPlan's path for a device other than the CPU (the one the PyTorch extension's CUDA
// plans take), exercised without a GPU: a fake device registered as Device::kCuda whose
// kernels are the CPU's CSR behind a wrapper that records the stream it was run on, with a
// host DeviceRowOrder and a recorded set_stream/synchronize. Checks that the caller's node
// order is kept through the device's row order, that kernels run on the caller's stream and
// selection on the default one, that the previous stream is restored, and that a change of
// stream synchronises first. A fake, so a unit test only: tests/gnn/cuda/kernels_test.cpp
// runs the same path on a real GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "gearbox/gnn/device_registry.hpp"
#include "gearbox/gnn/kernels.hpp"
#include "gearbox/gnn/matrix_plan.hpp"
#include "gearbox/testing/temp_dir.hpp"

using namespace gearbox::gnn;

namespace {

struct FakeDevice {
  void* stream = nullptr;                // the fake device's current stream
  std::vector<void*> kernel_streams;     // the stream each kernel run saw
  std::vector<void*> row_order_streams;  // the stream each gather into the planned order saw
  int synchronized = 0;
};
FakeDevice fake;

class StreamRecordingKernel final : public Kernel {
 public:
  explicit StreamRecordingKernel(std::unique_ptr<Kernel> k) : k_(std::move(k)) {}
  void run(const float* x, int f, float* y, bool accumulate) const override {
    fake.kernel_streams.push_back(fake.stream);
    k_->run(x, f, y, accumulate);
  }
  const char* name() const override { return "csr"; }
  Device device() const override { return Device::kCuda; }
  std::size_t format_bytes() const override { return k_->format_bytes(); }

 private:
  std::unique_ptr<Kernel> k_;
};

class HostRowOrder final : public DeviceRowOrder {
 public:
  explicit HostRowOrder(std::vector<index_t> old_of_new) : p_(std::move(old_of_new)) {}
  const float* to_planned(const float* x, int f) override {
    fake.row_order_streams.push_back(fake.stream);
    xb_.resize(p_.size() * f);
    for (std::size_t i = 0; i < p_.size(); ++i)
      std::copy_n(x + static_cast<std::size_t>(p_[i]) * f, f, xb_.data() + i * f);
    return xb_.data();
  }
  float* planned_output(int f) override {
    yb_.resize(p_.size() * f);
    return yb_.data();
  }
  void to_caller(int f, float* y) override {
    for (std::size_t i = 0; i < p_.size(); ++i)
      std::copy_n(yb_.data() + i * f, f, y + static_cast<std::size_t>(p_[i]) * f);
  }

 private:
  std::vector<index_t> p_;
  std::vector<float> xb_, yb_;
};

void register_fake_device() {
  if (device_registered(Device::kCuda)) return;
  DeviceSupport d;
  d.device = Device::kCuda;
  const KernelSpec& cpu_csr = find_kernel("csr", Device::kCpu);
  KernelSpec csr = cpu_csr;
  csr.device = Device::kCuda;
  csr.make = [make = cpu_csr.make](const Subgraph& s) -> std::unique_ptr<Kernel> {
    return std::make_unique<StreamRecordingKernel>(make(s));
  };
  d.kernels = {csr};
  d.timer = [](const std::function<void()>& fn) {
    fn();
    return 1e-3;
  };
  // The selection runs one kernel (as a device's measurement would) and picks whole CSR.
  d.select = [](const std::shared_ptr<const Csr>& a, const std::vector<BlockInfo>&,
                const std::vector<int>& widths, const SelectorOptions&) {
    std::vector<WidthChoice> out;
    for (const int f : widths) {
      std::vector<float> x(static_cast<std::size_t>(a->cols) * f, 1.f), y(x.size());
      find_kernel("csr", Device::kCuda)
          .make(Subgraph{a.get(), {}})
          ->run(x.data(), f, y.data(), false);
      Candidate c;
      c.label = "whole csr";
      c.device = Device::kCuda;
      c.whole = "csr";
      out.push_back({c, nlohmann::json::object()});
    }
    return out;
  };
  d.row_order = [](const std::vector<index_t>& old_of_new) -> std::unique_ptr<DeviceRowOrder> {
    return std::make_unique<HostRowOrder>(old_of_new);
  };
  d.set_stream = [](void* s) { return std::exchange(fake.stream, s); };
  d.synchronize = [] { ++fake.synchronized; };
  register_device(std::move(d));
}

// Planted communities of 30 nodes with shuffled ids (the reordering moves nodes), directed.
Csr shuffled_communities(index_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<index_t> id(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) id[i] = i;
  std::shuffle(id.begin(), id.end(), rng);
  Coo coo;
  coo.rows = coo.cols = n;
  for (index_t i = 0; i < n; ++i)
    for (int k = 0; k < 8; ++k) {
      coo.row.push_back(id[i]);
      coo.col.push_back(
          id[std::min<index_t>(n - 1, i / 30 * 30 + static_cast<index_t>(rng() % 30))]);
      coo.val.push_back(0.5f + static_cast<float>(rng() % 100) / 100.f);
    }
  return coo_to_csr(coo, Duplicates::kSum);
}

std::vector<float> random_x(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

}  // namespace

TEST(DevicePlan, RunsInTheCallersOrderOnTheCallersStreamAndSelectsOnTheDefaultOne) {
  gearbox::testing::TempDir dir;
  setenv("GEARBOX_CACHE", dir.path().c_str(), 1);
  register_fake_device();
  const index_t n = 300;
  const Csr a = shuffled_communities(n, 4);
  MatrixPlanOptions o;
  o.reorder = ReorderMethod::kLabelProp;
  o.max_block = 32;
  o.selector.device = Device::kCuda;
  o.selector.use_cache = false;
  MatrixPlan plan(Csr(a), 8, o);
  ASSERT_EQ(plan.device(), Device::kCuda);
  ASSERT_FALSE(fake.kernel_streams.empty()) << "the selection ran a kernel";
  for (void* s : fake.kernel_streams) EXPECT_EQ(s, nullptr) << "selection on the default stream";
  EXPECT_GE(fake.synchronized, 1) << "the preparation finished before the first run";

  void* const s1 = reinterpret_cast<void*>(0x51);
  void* const s2 = reinterpret_cast<void*>(0x52);
  for (const int f : {8, 5}) {  // 5: a new width, selected inside run()
    for (const bool tr : {false, true}) {
      const auto x = random_x(static_cast<std::size_t>(n) * f, 7);
      std::vector<float> want(x.size()), got(x.size(), 9.f);
      spmm_reference(tr ? transpose(a) : a, x.data(), f, want.data(), false);
      fake.kernel_streams.clear();
      fake.row_order_streams.clear();
      plan.run(x.data(), f, got.data(), tr, s1);
      EXPECT_EQ(fake.stream, nullptr) << "the previous stream is restored";
      ASSERT_FALSE(fake.row_order_streams.empty()) << "nodes moved: the device's row order ran";
      EXPECT_EQ(fake.row_order_streams.back(), s1);
      ASSERT_FALSE(fake.kernel_streams.empty());
      EXPECT_EQ(fake.kernel_streams.back(), s1) << "the run's kernel on the caller's stream";
      for (std::size_t i = 0; i + 1 < fake.kernel_streams.size(); ++i)
        EXPECT_EQ(fake.kernel_streams[i], nullptr) << "a new width is selected on the default";
      for (std::size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 1e-4f) << "f=" << f << " transpose=" << tr << " i=" << i;
    }
  }
  const int before = fake.synchronized;
  std::vector<float> x = random_x(static_cast<std::size_t>(n) * 8, 3), y(x.size());
  plan.run(x.data(), 8, y.data(), false, s1);
  EXPECT_EQ(fake.synchronized, before) << "same stream: no synchronisation";
  plan.run(x.data(), 8, y.data(), false, s2);
  EXPECT_EQ(fake.synchronized, before + 1) << "a new stream waits for the previous one's runs";
  EXPECT_EQ(fake.kernel_streams.back(), s2);
}
