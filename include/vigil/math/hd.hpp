#pragma once
// VIGIL_HD marks the per-point math that both backends run: __host__ __device__ under nvcc,
// nothing under a host compiler.
#if defined(__CUDACC__)
#define VIGIL_HD __host__ __device__ __forceinline__
#else
#define VIGIL_HD inline
#endif
