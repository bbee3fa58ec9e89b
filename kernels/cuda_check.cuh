#pragma once
// CUDA error handling and RAII device memory for the kernels/ translation units. Nothing here
// leaks into the public headers.
#include <cuda_runtime.h>

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

namespace vigil::cuda {

// Device or pinned memory ran out: the caller may retry with less.
class OutOfMemory : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A failed CUDA call becomes an exception naming the file, the line and CUDA's message.
[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line) {
  const std::string what = std::string(file) + ":" + std::to_string(line) + ": " + expr + ": " +
                           cudaGetErrorName(err) + ": " + cudaGetErrorString(err);
  if (err == cudaErrorMemoryAllocation) throw OutOfMemory(what);
  throw std::runtime_error(what);
}

#define VIGIL_CUDA_CHECK(expr)                                                         \
  do {                                                                                 \
    const cudaError_t vigil_err_ = (expr);                                             \
    if (vigil_err_ != cudaSuccess) ::vigil::cuda::throw_cuda_error(vigil_err_, #expr, __FILE__, __LINE__); \
  } while (0)

// Checks the launch itself; asynchronous faults surface at the next synchronising call.
#define VIGIL_CUDA_CHECK_LAUNCH() VIGIL_CUDA_CHECK(cudaGetLastError())

// Stream-ordered device allocation, freed on the same stream.
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(size_t count, cudaStream_t stream) : count_(count), stream_(stream) {
    if (count_) VIGIL_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&ptr_), count_ * sizeof(T), stream_));
  }
  ~DeviceBuffer() {
    if (ptr_) cudaFreeAsync(ptr_, stream_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept { *this = std::move(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      if (ptr_) cudaFreeAsync(ptr_, stream_);
      ptr_ = o.ptr_;
      count_ = o.count_;
      stream_ = o.stream_;
      o.ptr_ = nullptr;
      o.count_ = 0;
    }
    return *this;
  }
  T* data() const { return ptr_; }
  size_t size() const { return count_; }

 private:
  T* ptr_ = nullptr;
  size_t count_ = 0;
  cudaStream_t stream_ = nullptr;
};

// Page-locked host memory, so copies to and from the device run asynchronously at full speed.
struct FreePinned {
  void operator()(void* p) const { cudaFreeHost(p); }
};
template <typename T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t count) : count_(count) {
    T* p = nullptr;
    if (count_) VIGIL_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&p), count_ * sizeof(T)));
    ptr_.reset(p);
  }
  T* data() const { return ptr_.get(); }
  size_t size() const { return count_; }

 private:
  std::unique_ptr<T, FreePinned> ptr_;
  size_t count_ = 0;
};

class Stream {
 public:
  Stream() { VIGIL_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  ~Stream() { cudaStreamDestroy(stream_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return stream_; }
  void sync() const { VIGIL_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

 private:
  cudaStream_t stream_ = nullptr;
};

// An event for ordering streams (or, with cudaEventDefault, for timing).
class Event {
 public:
  explicit Event(unsigned flags = cudaEventDisableTiming) {
    VIGIL_CUDA_CHECK(cudaEventCreateWithFlags(&event_, flags));
  }
  ~Event() { cudaEventDestroy(event_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

}  // namespace vigil::cuda
