#include "nasx/core/cuda_graph.hpp"

#include <string>

#include "nasx/error.hpp"

#if defined(NASX_WITH_CUDA) && defined(NASX_CUDA_GRAPHS)
#define NASX_CAN_CAPTURE 1
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#else
#define NASX_CAN_CAPTURE 0
#endif

namespace nasx::core {

bool cuda_graphs_available() { return NASX_CAN_CAPTURE == 1; }

#if NASX_CAN_CAPTURE

struct CapturedStep::State {
  explicit State(c10::cuda::CUDAStream s) : stream(s) {}
  // A graph is captured on a stream other than the default one.
  c10::cuda::CUDAStream stream;
  at::cuda::CUDAGraph graph;
};

CapturedStep::CapturedStep(const std::function<void()>& step, const c10::Device& device,
                           int warmup) {
  if (!device.is_cuda())
    throw ConfigError("a CUDA graph captures work on a GPU, not on " + device.str() +
                      " (use --device cuda)");
  const c10::DeviceIndex index = device.has_index() ? device.index() : c10::cuda::current_device();
  c10::cuda::CUDAGuard on_device(index);
  c10::cuda::device_synchronize();
  state_ = std::make_unique<State>(c10::cuda::getStreamFromPool(false, index));
  {
    c10::cuda::CUDAStreamGuard on_stream(state_->stream);
    for (int i = 0; i < warmup; ++i) step();
    state_->stream.synchronize();
    try {
      state_->graph.capture_begin();
      step();
      state_->graph.capture_end();
    } catch (const std::exception& e) {
      try {
        state_->graph.capture_end();  // leave the stream out of capture mode
      } catch (const std::exception&) {
      }
      throw Error(std::string("the step could not be captured in a CUDA graph: ") + e.what() +
                  "\n(a captured step must keep to the GPU: no .item(), no copy from CPU "
                  "memory, no random numbers drawn on the host)");
    }
  }
  c10::cuda::device_synchronize();
}

void CapturedStep::replay() {
  // On the caller's current stream, as PyTorch replays: ordered with what the caller
  // ran before and runs after (a copy of the results, say).
  state_->graph.replay();
}

#else

struct CapturedStep::State {};

CapturedStep::CapturedStep(const std::function<void()>&, const c10::Device&, int) {
  throw ConfigError(
      "this nasx has no CUDA graphs: it is built against a CPU-only LibTorch (or with "
      "-DNASX_CUDA_GRAPHS=OFF); build it against a CUDA LibTorch");
}

void CapturedStep::replay() {}

#endif

CapturedStep::~CapturedStep() = default;

}  // namespace nasx::core
