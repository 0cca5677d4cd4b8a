// RecordFunction::inputs() asserts a debug-only flag the release LibTorch never sets;
// the inputs are valid in start callbacks either way.
#ifndef NDEBUG
#define NDEBUG
#endif

#include "nasx/probe.hpp"

#include <cstring>
#include <memory>

#include <ATen/ATen.h>
#include <ATen/record_function.h>

#include "nasx/data.hpp"
#include "nasx/error.hpp"
#include "nasx/space.hpp"

namespace nasx {

namespace {

struct Probe {
  std::function<void(const at::Tensor&)> on_relu;
  int64_t* macs = nullptr;
};

thread_local Probe* active_probe = nullptr;

int64_t conv_macs(c10::ArrayRef<const c10::IValue> inputs) {
  // aten::convolution(input, weight, bias, stride, padding, dilation, transposed,
  //                   output_padding, groups)
  const at::Tensor input = inputs[0].toTensor(), weight = inputs[1].toTensor();
  const auto stride = inputs[3].toIntVector(), padding = inputs[4].toIntVector(),
             dilation = inputs[5].toIntVector();
  const int64_t groups = inputs[8].toInt();
  int64_t out_positions = 1;
  // Callers may pass one value for every spatial dimension (conv2d(x, w, {}, 1, 1)).
  const auto at_dim = [](const std::vector<int64_t>& values, size_t i) {
    return values.size() == 1 ? values[0] : values.at(i);
  };
  for (int64_t d = 2; d < input.dim(); ++d) {
    const size_t i = static_cast<size_t>(d - 2);
    const int64_t extent = at_dim(dilation, i) * (weight.size(d) - 1) + 1;
    out_positions *= (input.size(d) + 2 * at_dim(padding, i) - extent) / at_dim(stride, i) + 1;
  }
  int64_t kernel = 1;
  for (int64_t d = 2; d < weight.dim(); ++d) kernel *= weight.size(d);
  return out_positions * weight.size(0) * (input.size(1) / groups) * kernel;
}

/// Matrix products: aten::linear (input, weight [out, in]), and the addmm / matmul that
/// torch::nn::Linear calls directly in LibTorch's C++ frontend. Only the outermost of
/// nested products counts (at::linear itself calls addmm or matmul).
int matrix_product_kind(const char* name) {
  if (std::strcmp(name, "aten::linear") == 0) return 1;
  if (std::strcmp(name, "aten::addmm") == 0) return 2;
  if (std::strcmp(name, "aten::matmul") == 0) return 3;
  return 0;
}

thread_local int matrix_product_depth = 0;

int64_t matrix_product_macs(int kind, c10::ArrayRef<const c10::IValue> inputs) {
  if (kind == 1) {
    const at::Tensor input = inputs[0].toTensor(), weight = inputs[1].toTensor();
    return input.numel() / input.size(-1) * weight.size(0) * weight.size(1);
  }
  // addmm(bias, mat1 [M, K], mat2 [K, N]); matmul(a [..., K], b [K, N])
  const at::Tensor a = inputs[kind == 2 ? 1 : 0].toTensor(),
                   b = inputs[kind == 2 ? 2 : 1].toTensor();
  if (b.dim() != 2 || a.dim() < 1) return 0;
  return a.numel() / a.size(-1) * b.size(0) * b.size(1);
}

std::unique_ptr<at::ObserverContext> on_operator(const at::RecordFunction& fn) {
  Probe* probe = active_probe;
  if (!probe) return nullptr;
  const char* name = fn.name();
  if (probe->on_relu &&
      (std::strcmp(name, "aten::relu") == 0 || std::strcmp(name, "aten::relu_") == 0)) {
    probe->on_relu(fn.inputs()[0].toTensor());
  } else if (probe->macs && std::strcmp(name, "aten::convolution") == 0) {
    *probe->macs += conv_macs(fn.inputs());
  } else if (const int kind = probe->macs ? matrix_product_kind(name) : 0) {
    if (matrix_product_depth++ == 0) *probe->macs += matrix_product_macs(kind, fn.inputs());
  }
  return nullptr;
}

void on_operator_end(const at::RecordFunction& fn, at::ObserverContext*) {
  if (active_probe && active_probe->macs && matrix_product_kind(fn.name())) --matrix_product_depth;
}

/// Installs `probe` for this thread until the returned handle is removed.
uint64_t install(Probe* probe) {
  if (active_probe)
    throw Error("an operator probe is already active on this thread (probes do not nest)");
  active_probe = probe;
  matrix_product_depth = 0;
  return at::addThreadLocalCallback(at::RecordFunctionCallback(&on_operator, &on_operator_end)
                                        .needsInputs(true)
                                        .scopes({at::RecordScope::FUNCTION}));
}

void uninstall(uint64_t handle) {
  at::removeCallback(handle);
  delete active_probe;
  active_probe = nullptr;
}

}  // namespace

ReluObserver::ReluObserver(std::function<void(const at::Tensor&)> on_relu)
    : handle_(install(new Probe{std::move(on_relu), nullptr})) {}

ReluObserver::~ReluObserver() { uninstall(handle_); }

int64_t count_macs(const std::function<void()>& forward) {
  int64_t macs = 0;
  const uint64_t handle = install(new Probe{{}, &macs});
  try {
    forward();
  } catch (...) {
    uninstall(handle);
    throw;
  }
  uninstall(handle);
  return macs;
}

int64_t network_macs(Network& net, const DataShape& shape) {
  const bool was_training = net.is_training();
  const auto params = net.parameters();
  const c10::Device device = params.empty() ? c10::Device(c10::kCPU) : params.front().device();
  net.eval();
  at::NoGradGuard no_grad;
  const at::Tensor image =
      at::zeros({1, shape.channels, shape.height, shape.width}, at::TensorOptions(device));
  const int64_t macs = count_macs([&] { net.forward(image); });
  net.train(was_training);
  return macs;
}

}  // namespace nasx
