#pragma once
// The backends every parity suite runs against: the CPU backend with all cores and with one
// (a scalar-order check), and the CUDA backend, which skips where no GPU is present.
#include <memory>
#include <string>

#include "vigil/backend.hpp"

namespace vigil::test {

// Null for "cuda" without a device.
inline std::unique_ptr<Backend> backend_named(const std::string& name) {
  if (name == "cuda") return cuda_device_count() > 0 ? make_backend("cuda") : nullptr;
  return make_cpu_backend(name == "cpu-1thread" ? 1 : 0);
}

#define VIGIL_ALL_BACKENDS ::testing::Values("cpu", "cpu-1thread", "cuda")

}  // namespace vigil::test
