// DeviceRowOrder on the GPU (factories.hpp): X gathered into the planned order, the kernels
// run there, Y gathered back, all on the current stream.
#include <cstdint>
#include <vector>

#include "factories.hpp"
#include "gearbox/core/error.hpp"
#include "launch.hpp"

namespace gearbox::gnn::cuda::detail {

namespace {

class GpuRowOrder final : public DeviceRowOrder {
 public:
  explicit GpuRowOrder(const std::vector<index_t>& old_of_new)
      : n_(static_cast<std::int64_t>(old_of_new.size())) {
    std::vector<std::int32_t> to_planned(old_of_new.size()), to_caller(old_of_new.size());
    for (std::size_t i = 0; i < old_of_new.size(); ++i) {
      const index_t old = old_of_new[i];
      if (old < 0 || static_cast<std::size_t>(old) >= old_of_new.size())
        throw Error::runtime("plan: the caller order is not a permutation")
            .found("entry " + std::to_string(i) + " = " + std::to_string(old));
      to_planned[i] = old;  // planned row i reads caller row old_of_new[i]
      to_caller[static_cast<std::size_t>(old)] = static_cast<std::int32_t>(i);
    }
    to_planned_ = to_device(to_planned);
    to_caller_ = to_device(to_caller);
  }

  const float* to_planned(const float* x, int f) override {
    reserve(f);
    gather_rows(x, to_planned_.as<std::int32_t>(), n_, f, xbuf_.as<float>());
    return xbuf_.as<float>();
  }

  float* planned_output(int f) override {
    reserve(f);
    return ybuf_.as<float>();
  }

  void to_caller(int f, float* y) override {
    gather_rows(ybuf_.as<float>(), to_caller_.as<std::int32_t>(), n_, f, y);
  }

 private:
  void reserve(int f) {
    const std::size_t bytes = sizeof(float) * static_cast<std::size_t>(n_) * f;
    if (xbuf_.bytes() < bytes) xbuf_ = DeviceBuffer(bytes);
    if (ybuf_.bytes() < bytes) ybuf_ = DeviceBuffer(bytes);
  }

  std::int64_t n_;
  DeviceBuffer to_planned_, to_caller_, xbuf_, ybuf_;
};

}  // namespace

std::unique_ptr<DeviceRowOrder> make_row_order(const std::vector<index_t>& old_of_new) {
  return std::make_unique<GpuRowOrder>(old_of_new);
}

}  // namespace gearbox::gnn::cuda::detail
