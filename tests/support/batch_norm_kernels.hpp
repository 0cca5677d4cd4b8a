#pragma once
// What the tests of the SDK's channels-last BatchNorm kernels share: whether the kernels
// run on this machine, and a count of their calls.

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include <ATen/record_function.h>

namespace nasx::test {

/// Where LibTorch runs kernels that fuse multiply-adds (AVX2 or AVX-512), as the SDK's
/// channels-last BatchNorm kernels do; elsewhere LibTorch's own run.
inline bool lib_torch_fuses_multiply_adds() {
#if defined(__x86_64__) && defined(__linux__)
  const char* capability = std::getenv("ATEN_CPU_CAPABILITY");
  if (capability != nullptr && std::string(capability) == "default") return false;
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

/// Counts the calls of the SDK's channels-last BatchNorm kernels while it lives.
class KernelCalls {
 public:
  KernelCalls() {
    handle_ = at::addGlobalCallback(at::RecordFunctionCallback(
        [](const at::RecordFunction& fn) -> std::unique_ptr<at::ObserverContext> {
          if (std::strcmp(fn.name(), "nasx::channels_last_batch_norm") == 0) ++forward_;
          if (std::strcmp(fn.name(), "nasx::channels_last_batch_norm_backward") == 0) ++backward_;
          return nullptr;
        }));
  }
  ~KernelCalls() { at::removeCallback(handle_); }
  KernelCalls(const KernelCalls&) = delete;
  KernelCalls& operator=(const KernelCalls&) = delete;
  static inline std::atomic<int> forward_{0}, backward_{0};

 private:
  at::CallbackHandle handle_;
};

}  // namespace nasx::test
