// Which backend a run gets. Apart from the CPU backend so that it does not reach into the CUDA one.
#include <memory>
#include <string>

#include "vigil/backend.hpp"
#include "vigil/error.hpp"

namespace vigil {

#ifdef VIGIL_HAVE_CUDA
std::unique_ptr<Backend> make_cuda_backend();  // kernels/cuda_backend.cu
int cuda_device_count_impl();
int cuda_device_count() { return cuda_device_count_impl(); }
#else
int cuda_device_count() { return 0; }
#endif

std::unique_ptr<Backend> make_backend(const std::string& which) {
  if (which == "cpu") return make_cpu_backend();
  if (which == "cuda" || which == "auto") {
#ifdef VIGIL_HAVE_CUDA
    if (cuda_device_count() > 0) return make_cuda_backend();
    if (which == "cuda") throw InputError("--backend cuda: no CUDA device is available");
#else
    if (which == "cuda") throw InputError("--backend cuda: this build has no CUDA backend (nvcc was not found)");
#endif
    return make_cpu_backend();
  }
  throw InputError("--backend must be auto, cpu or cuda, not '" + which + "'");
}

}  // namespace vigil
