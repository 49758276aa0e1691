// The one kernel registry and the registered devices (see device_registry.hpp).
#include "gearbox/gnn/device_registry.hpp"

#include <algorithm>
#include <map>
#include <mutex>

#include "cpu_kernel_specs.hpp"
#include "gearbox/core/error.hpp"

namespace gearbox::gnn {

namespace {

struct Registry {
  std::mutex mu;
  std::deque<KernelSpec> kernels;           // every device's, in registration order
  std::map<Device, DeviceSupport> devices;  // node-based: entries never move
};

Registry& registry() {
  static Registry* r = [] {
    auto* reg = new Registry;
    DeviceSupport cpu;
    cpu.device = Device::kCpu;
    cpu.kernels = detail::cpu_kernel_specs();
    cpu.timer = [](const std::function<void()>& fn) {
      Stopwatch sw;
      fn();
      return sw.seconds();
    };
    for (const auto& k : cpu.kernels) reg->kernels.push_back(k);
    reg->devices.emplace(Device::kCpu, std::move(cpu));
    return reg;
  }();
  return *r;
}

}  // namespace

void register_device(DeviceSupport d) {
  Registry& r = registry();
  const std::lock_guard<std::mutex> lock(r.mu);
  if (r.devices.count(d.device)) return;
  for (const auto& k : d.kernels) {
    if (k.device != d.device)
      throw Error::runtime("register_device: kernel on another device").field(k.name);
    r.kernels.push_back(k);
  }
  r.devices.emplace(d.device, std::move(d));
}

bool device_registered(Device d) {
  Registry& r = registry();
  const std::lock_guard<std::mutex> lock(r.mu);
  return r.devices.count(d) > 0;
}

const DeviceSupport& device_support(Device d) {
  Registry& r = registry();
  const std::lock_guard<std::mutex> lock(r.mu);
  const auto it = r.devices.find(d);
  if (it == r.devices.end())
    throw Error::usage("device not registered (this gearbox's gnn library was built without it)")
        .field("device")
        .found(device_name(d));
  return it->second;
}

DeviceStreamScope::DeviceStreamScope(Device d, void* stream) {
  if (d == Device::kCpu) return;
  const DeviceSupport& s = device_support(d);
  if (!s.set_stream) return;
  previous_ = s.set_stream(stream);
  support_ = &s;
}

DeviceStreamScope::~DeviceStreamScope() {
  if (support_) support_->set_stream(previous_);
}

double median_ms(Device d, const std::function<void()>& fn, const MeasureOptions& mo) {
  return measure(fn, mo, device_support(d).timer).median * 1e3;
}

double median_ms(Device d, const std::function<void()>& fn, int reps, int warmup) {
  MeasureOptions mo;
  mo.warmup = warmup;
  mo.min_reps = mo.max_reps = std::max(1, reps);
  mo.min_seconds = 0;
  return median_ms(d, fn, mo);
}

const std::deque<KernelSpec>& kernel_registry() {
  return registry().kernels;
}

const KernelSpec& find_kernel(const std::string& name, Device device) {
  for (const auto& k : kernel_registry())
    if (k.name == name && k.device == device) return k;
  std::string known;
  for (const auto& k : kernel_registry())
    if (k.device == device) known += (known.empty() ? "" : ", ") + k.name;
  throw Error::usage(std::string("unknown ") + device_name(device) + " kernel")
      .field("kernel")
      .expected(known)
      .found(name);
}

std::vector<const KernelSpec*> kernels_for(DensityClass c, Device device) {
  std::vector<const KernelSpec*> out;
  for (const auto& k : kernel_registry())
    if (k.device == device && std::find(k.classes.begin(), k.classes.end(), c) != k.classes.end())
      out.push_back(&k);
  return out;
}

}  // namespace gearbox::gnn
