#include "nasx/global_average_pool.hpp"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

namespace nasx {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct GlobalAveragePool : public torch::autograd::Function<GlobalAveragePool> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x) {
    ctx->saved_data["sizes"] = x.sizes();
    ctx->saved_data["channels_last"] = x.suggest_memory_format() == at::MemoryFormat::ChannelsLast;
    return x.mean({2, 3});
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const std::vector<int64_t> sizes = ctx->saved_data["sizes"].toIntVector();
    const auto format = ctx->saved_data["channels_last"].toBool() ? at::MemoryFormat::ChannelsLast
                                                                  : at::MemoryFormat::Contiguous;
    // mean's backward: the gradient expanded and divided by the count (an integer, as
    // LibTorch divides it), here divided first: the same division of the same values.
    const at::Tensor spread =
        (grad_outputs[0] / (sizes[2] * sizes[3])).view({sizes[0], sizes[1], 1, 1}).expand(sizes);
    return {spread.contiguous(format)};
  }
};

}  // namespace

at::Tensor global_average_pool(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4, "global_average_pool: a 4-dimensional input [N, C, H, W], not ",
              x.sizes());
  if (!at::GradMode::is_enabled() || !x.requires_grad()) return x.mean({2, 3});
  return GlobalAveragePool::apply(x);
}

}  // namespace nasx
