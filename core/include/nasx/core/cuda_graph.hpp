#pragma once
/// A step of GPU work captured once in a CUDA graph, then replayed. At the sizes of a
/// search a step is thousands of small kernels and a GPU spends most of it waiting for
/// launches; a replay launches them all at once.
///
/// A replay repeats exactly the work that was captured, on the same tensors: new inputs
/// must be copied into the captured ones, and whatever the step computed on the host
/// while it was captured is frozen in the graph. A learning-rate schedule does not move,
/// and Adam's bias correction stays at the captured step's count (nasx's ArchOptimizer
/// computes it on the host). The step must also keep to the GPU: no `.item()`, no copy
/// from CPU memory, no random numbers drawn on the host.

#include <functional>
#include <memory>

#include <c10/core/Device.h>

namespace nasx::core {

/// Whether this build can capture CUDA graphs: built against a CUDA LibTorch, with
/// NASX_CUDA_GRAPHS on.
bool cuda_graphs_available();

class CapturedStep {
 public:
  /// Runs `step` `warmup` times on a side stream of `device` (cuDNN's algorithm search,
  /// buffers created on first use and the allocator settle there), then captures one
  /// more call without running it. Keep at least one warm-up: the DARTS supernet builds
  /// index tensors on its first forward, a copy from host memory that a capture refuses.
  /// Throws ConfigError when this build has no CUDA graphs or `device` is not a GPU,
  /// Error with LibTorch's message when the capture fails.
  CapturedStep(const std::function<void()>& step, const c10::Device& device, int warmup = 3);
  ~CapturedStep();
  CapturedStep(const CapturedStep&) = delete;
  CapturedStep& operator=(const CapturedStep&) = delete;

  /// The captured step once more, on the caller's current stream (asynchronously, as a
  /// launch is).
  void replay();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace nasx::core
