#pragma once
/// Eight floats in a vector register, for the DARTS space's hand-vectorised CPU kernels
/// (avg_pool.cpp, depthwise.cpp, mixture.cpp). Each lane computes one channel in the scalar order, so
/// the bits do not depend on the vector width; these files are compiled with
/// -ffp-contract=off, so no fused multiply-add changes them between machines either, and
/// with -Wno-psabi: load8/store8 are always inlined, so no vector crosses a call and GCC's
/// note about the AVX calling convention does not apply.

#include <cstring>

// Kernels marked so are compiled twice, AVX2 and baseline, and the loader picks the one
// the CPU runs (x86-64 Linux; elsewhere the one baseline build).
#if defined(__x86_64__) && defined(__linux__)
#define NASX_AVX2_WHERE_PRESENT __attribute__((target_clones("avx2", "default")))
#else
#define NASX_AVX2_WHERE_PRESENT
#endif

namespace nasx::darts {

typedef float float8 __attribute__((vector_size(32)));

inline __attribute__((always_inline)) float8 load8(const float* p) {
  float8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline __attribute__((always_inline)) void store8(float* p, float8 v) {
  std::memcpy(p, &v, sizeof v);
}

}  // namespace nasx::darts
