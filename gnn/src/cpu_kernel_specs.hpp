// The CPU kernels' registry entries (kernels_cpu.cpp), which device_registry.cpp puts first
// in the one kernel registry. Internal to gearbox_gnn.
#pragma once

#include <vector>

#include "gearbox/gnn/kernels.hpp"

namespace gearbox::gnn::detail {

std::vector<KernelSpec> cpu_kernel_specs();

}  // namespace gearbox::gnn::detail
