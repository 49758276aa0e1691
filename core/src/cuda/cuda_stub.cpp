// Built when CUDA is off: the same interface, reporting no CUDA.
#include "gearbox/core/cuda.hpp"
#include "gearbox/core/error.hpp"

namespace gearbox {

bool cuda_built() {
  return false;
}
std::vector<CudaDevice> cuda_devices() {
  return {};
}
double cuda_copy_bandwidth_gbs(std::size_t) {
  throw Error::runtime("this gearbox was built without CUDA");
}

}  // namespace gearbox
