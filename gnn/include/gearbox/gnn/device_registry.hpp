// The devices a plan can be built for, each with its kernels (in the one kernel registry,
// kernels.hpp), the clock its runs are timed by, and its selection. The CPU is built in;
// gearbox_gnn_cuda registers the GPU (cuda::register_cuda()). Register a device before
// planning on it; registration is thread-safe, lookups after it need no lock.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "gearbox/core/stats.hpp"
#include "gearbox/gnn/kernels.hpp"
#include "gearbox/gnn/plan.hpp"

namespace gearbox::gnn {

struct DeviceSupport {
  Device device = Device::kCpu;
  std::vector<KernelSpec> kernels;  // each with .device == device
  RunTimer timer;                   // seconds of one run, finished on the device
  // Null for the CPU, whose selection is AdaptiveAggregator's own (measured with the
  // caller's input, cached, re-checked).
  DeviceSelector select;
  // Null for the CPU. Makes a plan that takes X and Y in the caller's node order (old_of_new:
  // the inverse of its reordering) on this device; see DeviceRowOrder.
  std::function<std::unique_ptr<DeviceRowOrder>(const std::vector<index_t>& old_of_new)> row_order;
  // Null for the CPU. Sends this thread's later work on the device to `stream` (the device's
  // queue handle, e.g. a cudaStream_t; null: its default queue); returns the previous one.
  std::function<void*(void* stream)> set_stream;
  // Null for the CPU. Waits until all work queued on the device has finished.
  std::function<void()> synchronize;
};

// Sends this thread's work on device d to `stream` while the scope lives (a no-op for the CPU
// or a device without streams); the previous stream is restored after.
class DeviceStreamScope {
 public:
  DeviceStreamScope(Device d, void* stream);
  ~DeviceStreamScope();
  DeviceStreamScope(const DeviceStreamScope&) = delete;
  DeviceStreamScope& operator=(const DeviceStreamScope&) = delete;

 private:
  const DeviceSupport* support_ = nullptr;
  void* previous_ = nullptr;
};

// Adds a device and its kernels; a device registered before is left as it was.
void register_device(DeviceSupport d);
bool device_registered(Device d);
// The device's support; Error::usage naming the device when it is not registered.
const DeviceSupport& device_support(Device d);

// Median milliseconds of runs of fn on device d (each run timed by the device's clock):
// mo.warmup runs, then at least mo.min_reps and until mo.min_seconds, at most mo.max_reps.
double median_ms(Device d, const std::function<void()>& fn, const MeasureOptions& mo);
// Exactly `reps` timed runs after `warmup` (the device benchmarks' form).
double median_ms(Device d, const std::function<void()>& fn, int reps, int warmup = 3);

}  // namespace gearbox::gnn
