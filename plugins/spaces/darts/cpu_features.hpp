#pragma once

namespace nasx::darts {

/// Whether this CPU runs the hand-written AVX2 + FMA kernels (depthwise and 1x1
/// convolutions); elsewhere they leave the work to LibTorch. Asked once.
inline bool cpu_has_avx2_and_fma() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
#else
  return false;
#endif
}

}  // namespace nasx::darts
