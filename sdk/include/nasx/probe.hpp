#pragma once
/// Watching the operators a forward pass runs, without hooks in the network's code.
///
/// Built on ATen's RecordFunction callbacks (the profiler's mechanism), installed for
/// the calling thread only while a probe object lives: they see every ReLU and every
/// convolution of any network, a plugin's own networks included.

#include <cstdint>
#include <functional>

#include <ATen/core/Tensor.h>

#include "nasx/export.hpp"

namespace nasx {

/// Calls `on_relu` with the input of every ReLU (`relu` and in-place `relu_`) this
/// thread runs while the observer lives: one call per ReLU call, so a ReLU module
/// applied twice reports twice. Observers do not nest.
class NASX_API ReluObserver {
 public:
  explicit ReluObserver(std::function<void(const at::Tensor& pre_activation)> on_relu);
  ~ReluObserver();
  ReluObserver(const ReluObserver&) = delete;
  ReluObserver& operator=(const ReluObserver&) = delete;

 private:
  uint64_t handle_;
};

/// Multiply-accumulate operations of the convolutions and linear layers `forward` runs.
/// On one input sample this is the "FLOPs" figure NAS papers report (NAS-Bench-201's
/// and DARTS' FLOPs are multiply-adds). Throws Error when a probe is already active.
NASX_API int64_t count_macs(const std::function<void()>& forward);

class Network;
struct DataShape;

/// count_macs of `net` on one image of `shape` in evaluation mode (auxiliary heads
/// and drop path off), on the device of its parameters; the mode is restored.
NASX_API int64_t network_macs(Network& net, const DataShape& shape);

}  // namespace nasx
