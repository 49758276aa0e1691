// What CUDA this binary was built with and which devices it sees. Safe to call in a build
// without CUDA (reports "off" and no devices) and on a machine without a GPU.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace gearbox {

struct CudaDevice {
  int index = 0;
  std::string name;
  int sm_major = 0, sm_minor = 0;
  int multiprocessors = 0;
  std::size_t memory_bytes = 0;
};

// True when CUDA sources were compiled into this binary.
bool cuda_built();

// The CUDA devices visible now; empty without a build, a driver or a device.
std::vector<CudaDevice> cuda_devices();

// Measured device-to-device copy bandwidth (bytes read + written per second, GB/s) on device 0
// over `bytes` per buffer; throws Error::runtime when no device is present.
double cuda_copy_bandwidth_gbs(std::size_t bytes = std::size_t{256} << 20);

}  // namespace gearbox
