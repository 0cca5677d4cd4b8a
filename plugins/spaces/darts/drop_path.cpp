#include "darts/drop_path.hpp"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

namespace nasx::darts {

namespace {

/// x times its per-sample factors on LibTorch's operators (x itself without factors).
at::Tensor scaled(const at::Tensor& x, const at::Tensor& scale) {
  return scale.defined() ? x * scale.view({-1, 1, 1, 1}).to(x.options()) : x;
}

/// Whether a and b are float CPU tensors of the same sizes laid out the same way, each
/// sample one dense block, and each factor (if any) N float CPU values: what the kernel
/// walks. Anything else takes LibTorch's operators (and their errors).
bool kernel_applies(const at::Tensor& a, const at::Tensor& scale_a, const at::Tensor& b,
                    const at::Tensor& scale_b) {
  const auto float_cpu = [](const at::Tensor& t) {
    return t.layout() == at::kStrided && t.device().is_cpu() && t.scalar_type() == at::kFloat;
  };
  if (!float_cpu(a) || !float_cpu(b) || a.dim() != 4 || b.sizes() != a.sizes() || a.numel() == 0)
    return false;
  for (const at::Tensor& scale : {scale_a, scale_b})
    if (scale.defined() && (!float_cpu(scale) || scale.numel() != a.size(0))) return false;
  for (const auto format : {at::MemoryFormat::ChannelsLast, at::MemoryFormat::Contiguous})
    if (a.is_contiguous(format) && b.is_contiguous(format) && a.strides() == b.strides())
      return true;
  return false;
}

/// out = a·sa + b·sb per sample, an absent factor taken as 1: x·1 is x exactly, so that
/// edge's term is its value as LibTorch's sum reads it. The file is compiled without fused
/// multiply-adds, so each product is rounded as LibTorch's separate multiplication rounds it.
at::Tensor sum_kernel(const at::Tensor& a, const at::Tensor& scale_a, const at::Tensor& b,
                      const at::Tensor& scale_b) {
  RECORD_FUNCTION("nasx::darts::drop_path_sum", std::vector<c10::IValue>{});
  at::Tensor out = at::empty_like(a);
  const int64_t samples = a.size(0), per_sample = a.numel() / samples;
  const float* pa = a.data_ptr<float>();
  const float* pb = b.data_ptr<float>();
  float* po = out.data_ptr<float>();
  const at::Tensor fa = scale_a.defined() ? scale_a.contiguous() : scale_a;
  const at::Tensor fb = scale_b.defined() ? scale_b.contiguous() : scale_b;
  const float* sa = fa.defined() ? fa.data_ptr<float>() : nullptr;
  const float* sb = fb.defined() ? fb.data_ptr<float>() : nullptr;
  at::parallel_for(0, samples, 1, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const float* x = pa + n * per_sample;
      const float* y = pb + n * per_sample;
      float* o = po + n * per_sample;
      const float u = sa ? sa[n] : 1.0f, v = sb ? sb[n] : 1.0f;
      for (int64_t i = 0; i < per_sample; ++i) o[i] = x[i] * u + y[i] * v;
    }
  });
  return out;
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// The per-sample factors of the two edges (either undefined), constants to autograd.
struct Factors {
  at::Tensor a, b;
};

c10::IValue saved(const at::Tensor& t) { return t.defined() ? c10::IValue(t) : c10::IValue(); }
at::Tensor restored(const c10::IValue& v) { return v.isNone() ? at::Tensor() : v.toTensor(); }

class DropPathSumFunction : public torch::autograd::Function<DropPathSumFunction> {
 public:
  // The factors are constants to autograd, so they travel in a struct, not as tensor
  // arguments: LibTorch 1.13 refuses an undefined at::Tensor argument (an identity's).
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b,
                            const Factors& factors) {
    ctx->set_materialize_grads(false);
    ctx->saved_data["a"] = saved(factors.a);
    ctx->saved_data["b"] = saved(factors.b);
    return sum_kernel(a, factors.a, b, factors.b);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const at::Tensor& g = grad_outputs[0];
    if (!g.defined()) return {at::Tensor(), at::Tensor(), at::Tensor()};
    const at::Tensor scale_a = restored(ctx->saved_data["a"]);
    const at::Tensor scale_b = restored(ctx->saved_data["b"]);
    // A node's gradient is mostly a slice of the gradient of the cell's concatenated
    // output: an edge without a factor would pass that slice on as it is, and the layers
    // before it (BatchNorm) would read it in LibTorch's slower strided kernels. One dense
    // copy, in the slice's layout, serves both edges.
    const bool passed_on = !scale_a.defined() || !scale_b.defined();
    const at::Tensor dense = passed_on && !g.is_non_overlapping_and_dense()
                                 ? g.contiguous(g.suggest_memory_format())
                                 : g;
    // What the reference's multiplications give back: the gradient times each factor.
    return {scaled(dense, scale_a), scaled(dense, scale_b), at::Tensor()};
  }
};

}  // namespace

at::Tensor drop_path_scale(int64_t samples, double drop_prob, at::Generator& generator) {
  const double keep = 1.0 - drop_prob;
  at::Tensor mask = at::empty({samples}, at::kFloat);
  mask.bernoulli_(keep, generator);
  return mask.div_(keep);
}

at::Tensor drop_path_sum(const at::Tensor& a, const at::Tensor& scale_a, const at::Tensor& b,
                         const at::Tensor& scale_b) {
  const bool differentiable =
      at::GradMode::is_enabled() && (a.requires_grad() || b.requires_grad());
  if (!kernel_applies(a, scale_a, b, scale_b)) return scaled(a, scale_a) + scaled(b, scale_b);
  if (!differentiable) return sum_kernel(a, scale_a, b, scale_b);
  return DropPathSumFunction::apply(a, b, Factors{scale_a, scale_b});
}

}  // namespace nasx::darts
