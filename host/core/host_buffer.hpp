#pragma once
// A large host array of plain values about to be overwritten (a cube's values read from disk):
// allocated without value-initialisation, since zero-filling memory that the next read fills anyway
// costs a pass over it, and backed by transparent huge pages where the kernel offers them, so
// that a 400 MB buffer is a few hundred page faults rather than 100,000.
#include <sys/mman.h>

#include <cstddef>
#include <new>
#include <type_traits>

namespace vigil {

template <class T>
class HostBuffer {
  static_assert(std::is_trivially_copyable<T>::value, "plain values only: nothing is constructed");

 public:
  HostBuffer() = default;
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  ~HostBuffer() { release(); }

  // Room for n elements, their values unspecified; the memory held is kept when n fits in it.
  void resize(size_t n) {
    if (n > capacity_) {
      release();
      constexpr size_t kHuge = size_t{2} << 20;
      const size_t bytes = (n * sizeof(T) + kHuge - 1) / kHuge * kHuge;
      void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
      ::madvise(p, bytes, MADV_HUGEPAGE);  // advice only: without it, ordinary pages
#endif
      data_ = static_cast<T*>(p);
      capacity_ = bytes / sizeof(T);
    }
    size_ = n;
  }
  // Hands the memory back to the system.
  void release() {
    if (data_) ::munmap(data_, capacity_ * sizeof(T));
    data_ = nullptr;
    capacity_ = size_ = 0;
  }
  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  T* data_ = nullptr;
  size_t capacity_ = 0, size_ = 0;
};

}  // namespace vigil
