#include "channels_last_batch_norm.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>

// Kernels marked so are compiled twice, for CPUs with FMA (and so AVX) and for the baseline,
// and the loader picks the one the CPU runs (x86-64 Linux; elsewhere the one build).
// The baseline's fused multiply-adds are fmaf calls: slower, the same bits.
#if defined(__x86_64__) && defined(__linux__)
#define NASX_FMA_WHERE_PRESENT __attribute__((target_clones("fma", "default")))
#else
#define NASX_FMA_WHERE_PRESENT
#endif

namespace nasx {

namespace {

typedef float float8 __attribute__((vector_size(32)));

inline __attribute__((always_inline)) float8 load8(const float* p) {
  float8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline __attribute__((always_inline)) void store8(float* p, float8 v) {
  std::memcpy(p, &v, sizeof v);
}

/// a·b + c rounded once, lane by lane (one instruction where the CPU has FMA).
inline __attribute__((always_inline)) float8 fma8(float8 a, float8 b, float8 c) {
  float8 r;
  for (int i = 0; i < 8; ++i) r[i] = __builtin_fmaf(a[i], b[i], c[i]);
  return r;
}

// The running sums below are held in registers across the rows, a block of channels at a
// time: kept in memory, as a loop over `acc[c]` compiles (acc may alias the input), every
// row's sum waited on a store and the load after it, and the statistics' passes ran at a
// fraction of the memory's speed. Each lane still adds its rows in row order: the bits do
// not change.

/// Channels [first, first + 8·V) of rows [begin, end): the running sums of the mean,
/// each lane in row order as LibTorch's map2 (x + acc) adds them.
template <int V>
inline __attribute__((always_inline)) void add_rows_block(const float* x, int64_t channels,
                                                          int64_t first, int64_t begin, int64_t end,
                                                          float* acc) {
  float8 sum[V];
  for (int v = 0; v < V; ++v) sum[v] = load8(acc + first + 8 * v);
  for (int64_t r = begin; r < end; ++r) {
    const float* row = x + r * channels + first;
    for (int v = 0; v < V; ++v) sum[v] = sum[v] + load8(row + 8 * v);
  }
  for (int v = 0; v < V; ++v) store8(acc + first + 8 * v, sum[v]);
}

/// The same for the variance: acc + (x − mean)², as LibTorch's map3 adds them.
template <int V>
inline __attribute__((always_inline)) void add_squared_deviations_block(
    const float* x, const float* mean, int64_t channels, int64_t first, int64_t begin, int64_t end,
    float* acc) {
  float8 sum[V], centre[V];
  for (int v = 0; v < V; ++v) {
    sum[v] = load8(acc + first + 8 * v);
    centre[v] = load8(mean + first + 8 * v);
  }
  for (int64_t r = begin; r < end; ++r) {
    const float* row = x + r * channels + first;
    for (int v = 0; v < V; ++v) {
      const float8 d = load8(row + 8 * v) - centre[v];
      sum[v] = fma8(d, d, sum[v]);
    }
  }
  for (int v = 0; v < V; ++v) store8(acc + first + 8 * v, sum[v]);
}

/// The gradient's two sums, Σ dy and Σ (x − mean)·dy (LibTorch's map2 and map4; the
/// output-saving node passes y as x and mean null, which is 0: y − 0 is y).
template <int V>
inline __attribute__((always_inline)) void add_gradient_rows_block(const float* dy, const float* x,
                                                                   const float* mean,
                                                                   int64_t channels, int64_t first,
                                                                   int64_t begin, int64_t end,
                                                                   float* sum, float* dot) {
  float8 s[V], d[V], centre[V];
  for (int v = 0; v < V; ++v) {
    s[v] = load8(sum + first + 8 * v);
    d[v] = load8(dot + first + 8 * v);
    centre[v] = mean != nullptr ? load8(mean + first + 8 * v) : float8{};
  }
  for (int64_t r = begin; r < end; ++r) {
    const float* g = dy + r * channels + first;
    const float* value = x + r * channels + first;
    for (int v = 0; v < V; ++v) {
      const float8 gv = load8(g + 8 * v);
      s[v] = s[v] + gv;
      d[v] = fma8(load8(value + 8 * v) - centre[v], gv, d[v]);
    }
  }
  for (int v = 0; v < V; ++v) {
    store8(sum + first + 8 * v, s[v]);
    store8(dot + first + 8 * v, d[v]);
  }
}

/// Runs BLOCK(V) for each block of the channels' whole vectors, first (a variable in
/// scope of BLOCK) its first channel, V its vectors: four at a time (their sums and what
/// they add fit the sixteen AVX registers), the last block the rest.
#define NASX_FOR_EACH_BLOCK(channels, BLOCK)                      \
  for (int64_t first = 0; first + 8 <= (channels); first += 32) { \
    switch (std::min<int64_t>(4, ((channels)-first) / 8)) {       \
      case 1:                                                     \
        BLOCK(1);                                                 \
        break;                                                    \
      case 2:                                                     \
        BLOCK(2);                                                 \
        break;                                                    \
      case 3:                                                     \
        BLOCK(3);                                                 \
        break;                                                    \
      default:                                                    \
        BLOCK(4);                                                 \
        break;                                                    \
    }                                                             \
  }

/// Rows [begin, end) of [rows, C] tensors: the statistics' running sums, each lane in
/// row order as LibTorch's map2 (x + acc) and map3 (acc + (x − mean)²) add them.
NASX_FMA_WHERE_PRESENT void add_rows(const float* x, int64_t channels, int64_t begin, int64_t end,
                                     float* acc) {
#define NASX_BLOCK(V) add_rows_block<V>(x, channels, first, begin, end, acc)
  NASX_FOR_EACH_BLOCK(channels, NASX_BLOCK)
#undef NASX_BLOCK
  for (int64_t c = channels / 8 * 8; c < channels; ++c) {
    float sum = acc[c];
    for (int64_t r = begin; r < end; ++r) sum = sum + x[r * channels + c];
    acc[c] = sum;
  }
}

NASX_FMA_WHERE_PRESENT void add_squared_deviations(const float* x, const float* mean,
                                                   int64_t channels, int64_t begin, int64_t end,
                                                   float* acc) {
#define NASX_BLOCK(V) add_squared_deviations_block<V>(x, mean, channels, first, begin, end, acc)
  NASX_FOR_EACH_BLOCK(channels, NASX_BLOCK)
#undef NASX_BLOCK
  for (int64_t c = channels / 8 * 8; c < channels; ++c) {
    float sum = acc[c];
    for (int64_t r = begin; r < end; ++r) {
      const float d = x[r * channels + c] - mean[c];
      sum = __builtin_fmaf(d, d, sum);
    }
    acc[c] = sum;
  }
}

/// y = x·alpha + beta, rounded once (LibTorch's x·alpha + beta, contracted).
NASX_FMA_WHERE_PRESENT void scale_and_shift(const float* x, const float* alpha, const float* beta,
                                            int64_t channels, int64_t begin, int64_t end,
                                            float* y) {
  const int64_t vectorised = channels / 8 * 8;
  for (int64_t r = begin; r < end; ++r) {
    const float* row = x + r * channels;
    float* out = y + r * channels;
    for (int64_t c = 0; c < vectorised; c += 8)
      store8(out + c, fma8(load8(row + c), load8(alpha + c), load8(beta + c)));
    for (int64_t c = vectorised; c < channels; ++c)
      out[c] = __builtin_fmaf(row[c], alpha[c], beta[c]);
  }
}

/// The gradient's sums: Σ dy and Σ (x − mean)·dy (mean null: 0).
NASX_FMA_WHERE_PRESENT void add_gradient_rows(const float* dy, const float* x, const float* mean,
                                              int64_t channels, int64_t begin, int64_t end,
                                              float* sum, float* dot) {
#define NASX_BLOCK(V) add_gradient_rows_block<V>(dy, x, mean, channels, first, begin, end, sum, dot)
  NASX_FOR_EACH_BLOCK(channels, NASX_BLOCK)
#undef NASX_BLOCK
  for (int64_t c = channels / 8 * 8; c < channels; ++c) {
    const float centre = mean != nullptr ? mean[c] : 0.0f;
    float s = sum[c], d = dot[c];
    for (int64_t r = begin; r < end; ++r) {
      s = s + dy[r * channels + c];
      d = __builtin_fmaf(x[r * channels + c] - centre, dy[r * channels + c], d);
    }
    sum[c] = s;
    dot[c] = d;
  }
}

#undef NASX_FOR_EACH_BLOCK

/// dx = (((dy − mean_dy) − (x − mean)·k)·invstd)·w, the inner difference rounded once
/// (LibTorch's (dy − grad_mean − (x − mean)·k)·invstd·w, contracted). The output-saving
/// node passes y as x, mean and invstd null (0 and 1: exact) and invstd as w.
NASX_FMA_WHERE_PRESENT void gradient_rows(const float* dy, const float* x, const float* mean,
                                          const float* mean_dy, const float* k, const float* invstd,
                                          const float* w, int64_t channels, int64_t begin,
                                          int64_t end, float* dx) {
  const int64_t vectorised = channels / 8 * 8;
  for (int64_t r = begin; r < end; ++r) {
    const float* g = dy + r * channels;
    const float* v = x + r * channels;
    float* out = dx + r * channels;
    for (int64_t c = 0; c < vectorised; c += 8) {
      const float8 centred = load8(g + c) - load8(mean_dy + c);
      const float8 deviation = mean != nullptr ? load8(v + c) - load8(mean + c) : load8(v + c);
      float8 inner = fma8(-deviation, load8(k + c), centred);
      if (invstd != nullptr) inner = inner * load8(invstd + c);
      store8(out + c, inner * load8(w + c));
    }
    for (int64_t c = vectorised; c < channels; ++c) {
      const float deviation = mean != nullptr ? v[c] - mean[c] : v[c];
      float inner = __builtin_fmaf(-deviation, k[c], g[c] - mean_dy[c]);
      if (invstd != nullptr) inner = inner * invstd[c];
      out[c] = inner * w[c];
    }
  }
}

/// Sums over the rows of a [rows, C] tensor in LibTorch's slices: its reductions run
/// at::parallel_for(0, rows, 1) and sum each thread's slice into that thread's row of a
/// [threads, C] buffer, the slices being ⌈rows / threads⌉ rows in thread order. The same
/// slices here, each into its row of `partial` ([threads, C], zeros), whichever thread
/// runs it — so the bits do not depend on how the work is scheduled.
template <typename AddRows>
void add_by_slice(int64_t rows, float* partial, int64_t threads, int64_t channels, AddRows add) {
  const int64_t slice = (rows + threads - 1) / threads;
  at::parallel_for(0, threads, 1, [&](int64_t first, int64_t last) {
    for (int64_t t = first; t < last; ++t) {
      const int64_t begin = t * slice, end = std::min(rows, begin + slice);
      if (begin < end) add(begin, end, partial + t * channels);
    }
  });
}

/// Σ over threads of partial[t, c], in double, in thread order.
double thread_total(const at::Tensor& partial, int64_t c) {
  const float* data = partial.data_ptr<float>();
  const int64_t channels = partial.size(1);
  double total = 0;
  for (int64_t t = 0; t < partial.size(0); ++t) total += data[t * channels + c];
  return total;
}

bool lib_torch_fuses_multiply_adds() {
#if defined(__x86_64__) && defined(__linux__)
  // LibTorch's choice of kernels (ATen's CPU capability): AVX-512 or AVX2, whose builds
  // contract multiply-adds, where the CPU has AVX2 and FMA, unless the environment asks
  // for its baseline ("default"), whose build does not.
  static const bool fuses = [] {
    const char* capability = std::getenv("ATEN_CPU_CAPABILITY");
    if (capability != nullptr && std::string(capability) == "default") return false;
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return fuses;
#else
  return false;  // the arithmetic is pinned on x86-64 only: LibTorch's there
#endif
}

}  // namespace

bool channels_last_batch_norm_applies(const at::Tensor& x) {
  const auto cl = at::MemoryFormat::ChannelsLast;
  // Inside a parallel region LibTorch sums every row in one slice: its own kernel then.
  return x.defined() && x.layout() == at::kStrided && x.dim() == 4 && x.device().is_cpu() &&
         x.scalar_type() == at::kFloat && x.is_contiguous(cl) && !x.is_contiguous() &&
         x.size(1) > 0 && x.numel() / x.size(1) > at::get_num_threads() &&
         !at::in_parallel_region() && lib_torch_fuses_multiply_adds();
}

NormalizedBatch channels_last_batch_norm(const at::Tensor& x, const at::Tensor& weight,
                                         const at::Tensor& bias, const at::Tensor& running_mean,
                                         const at::Tensor& running_var, double momentum,
                                         double eps) {
  TORCH_CHECK(channels_last_batch_norm_applies(x), "channels-last BatchNorm: not for this input");
  RECORD_FUNCTION("nasx::channels_last_batch_norm", std::vector<c10::IValue>{});  // in profiles
  const int64_t channels = x.size(1), rows = x.numel() / channels;
  const float* xd = x.data_ptr<float>();
  const auto options = x.options().memory_format(at::MemoryFormat::Contiguous);
  NormalizedBatch out{at::empty_like(x, x.options().memory_format(at::MemoryFormat::ChannelsLast)),
                      at::empty({channels}, options), at::empty({channels}, options)};
  float* mean = out.mean.data_ptr<float>();
  float* invstd = out.invstd.data_ptr<float>();

  const int64_t threads = at::get_num_threads();
  at::Tensor partial = at::zeros({threads, channels}, options);
  add_by_slice(
      rows, partial.data_ptr<float>(), threads, channels,
      [&](int64_t begin, int64_t end, float* acc) { add_rows(xd, channels, begin, end, acc); });
  for (int64_t c = 0; c < channels; ++c)
    mean[c] = static_cast<float>(thread_total(partial, c) / static_cast<double>(rows));

  partial.zero_();
  add_by_slice(rows, partial.data_ptr<float>(), threads, channels,
               [&](int64_t begin, int64_t end, float* acc) {
                 add_squared_deviations(xd, mean, channels, begin, end, acc);
               });
  at::Tensor alpha = at::empty({channels}, options), beta = at::empty({channels}, options);
  float* a = alpha.data_ptr<float>();
  float* b = beta.data_ptr<float>();
  const at::Tensor w = weight.defined() ? weight.contiguous() : weight;
  const at::Tensor shift = bias.defined() ? bias.contiguous() : bias;
  const float* wd = w.defined() ? w.data_ptr<float>() : nullptr;
  const float* bd = shift.defined() ? shift.data_ptr<float>() : nullptr;
  float* rm = running_mean.defined() ? running_mean.data_ptr<float>() : nullptr;
  float* rv = running_var.defined() ? running_var.data_ptr<float>() : nullptr;
  // LibTorch's statistics update: momentum in float, the variance sum in float, divided
  // in float; the running mean in float, the running variance in double from the
  // unbiased variance (so its product is exact) and rounded once.
  const float keep = static_cast<float>(momentum), forget = 1.0f - keep;
  for (int64_t c = 0; c < channels; ++c) {
    const float var_sum = static_cast<float>(thread_total(partial, c));
    const float var = var_sum / static_cast<float>(rows);
    invstd[c] = var == 0 && eps == 0  // LibTorch's InvStd: 0, not infinity, there
                    ? 0.0f
                    : static_cast<float>(1 / std::sqrt(static_cast<double>(var) + eps));
    // LibTorch's linear and constant terms: alpha = invstd·weight, beta = bias − mean·alpha
    // rounded once (contracted in its AVX2 and AVX-512 builds; a missing weight is 1, a
    // missing bias 0, where both roundings agree).
    a[c] = wd != nullptr ? invstd[c] * wd[c] : invstd[c];
    b[c] = __builtin_fmaf(-mean[c], a[c], bd != nullptr ? bd[c] : 0.0f);
    if (rm != nullptr) rm[c] = keep * mean[c] + forget * rm[c];
    if (rv != nullptr) {
      const double unbiased = var_sum / static_cast<float>(rows - 1);
      rv[c] = static_cast<float>(static_cast<double>(keep) * unbiased +
                                 static_cast<double>(forget * rv[c]));
    }
  }

  float* yd = out.y.data_ptr<float>();
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    scale_and_shift(xd, a, b, channels, begin, end, yd);
  });
  return out;
}

namespace {

/// LibTorch's channels-last backward in training: Σ dy and Σ (x − mean)·dy per channel
/// (each thread's slice in float, the slices added in double and rounded to float), then
/// dx row by row. mean and invstd undefined: 0 and 1 (the output-saving node's call).
BatchNormGradients backward(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& weight,
                            const at::Tensor& mean, const at::Tensor& invstd, bool input_grad,
                            bool affine_grads) {
  const auto cl = at::MemoryFormat::ChannelsLast;
  const at::Tensor g = dy.contiguous(cl);
  const int64_t channels = x.size(1), rows = x.numel() / channels;
  const float* gd = g.data_ptr<float>();
  const float* xd = x.data_ptr<float>();
  const at::Tensor centre = mean.defined() ? mean.contiguous() : mean;
  const at::Tensor scale = invstd.defined() ? invstd.contiguous() : invstd;
  const float* md = centre.defined() ? centre.data_ptr<float>() : nullptr;
  const float* sd = scale.defined() ? scale.data_ptr<float>() : nullptr;
  const auto options = x.options().memory_format(at::MemoryFormat::Contiguous);

  const int64_t threads = at::get_num_threads();
  at::Tensor partial = at::zeros({threads, 2, channels}, options);
  // Each slice's two sums side by side in a row of [threads, 2·C].
  add_by_slice(rows, partial.data_ptr<float>(), threads, 2 * channels,
               [&](int64_t begin, int64_t end, float* acc) {
                 add_gradient_rows(gd, xd, md, channels, begin, end, acc, acc + channels);
               });
  const at::Tensor sums = partial.select(1, 0).contiguous();
  const at::Tensor dots = partial.select(1, 1).contiguous();
  at::Tensor sum = at::empty({channels}, options), dot = at::empty({channels}, options);
  float* sum_d = sum.data_ptr<float>();
  float* dot_d = dot.data_ptr<float>();
  for (int64_t c = 0; c < channels; ++c) {
    sum_d[c] = static_cast<float>(thread_total(sums, c));
    dot_d[c] = static_cast<float>(thread_total(dots, c));
  }
  BatchNormGradients out;
  if (input_grad) {
    // LibTorch's per-channel factors: grad_mean = Σdy / N, k = Σ(x − mean)·dy·invstd² / N.
    at::Tensor mean_dy = at::empty({channels}, options), k = at::empty({channels}, options);
    float* m = mean_dy.data_ptr<float>();
    float* kd = k.data_ptr<float>();
    const float count = static_cast<float>(rows);
    for (int64_t c = 0; c < channels; ++c) {
      m[c] = sum_d[c] / count;
      kd[c] = (sd != nullptr ? dot_d[c] * sd[c] * sd[c] : dot_d[c]) / count;
    }
    const at::Tensor w = weight.contiguous();
    const float* wd = w.data_ptr<float>();
    out.dx = at::empty_like(x, x.options().memory_format(cl));
    float* dxd = out.dx.data_ptr<float>();
    at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
      gradient_rows(gd, xd, md, m, kd, sd, wd, channels, begin, end, dxd);
    });
  }
  if (affine_grads) {
    out.dweight = sd != nullptr ? dot * scale : dot;
    out.dbias = sum;
  }
  return out;
}

}  // namespace

at::Tensor channels_last_batch_norm_backward(const at::Tensor& dy, const at::Tensor& y,
                                             const at::Tensor& invstd) {
  TORCH_CHECK(channels_last_batch_norm_applies(y), "channels-last BatchNorm: not for this output");
  RECORD_FUNCTION("nasx::channels_last_batch_norm_backward", std::vector<c10::IValue>{});
  // LibTorch's formula told the input was y, with mean 0 and invstd 1, and invstd the
  // affine weight: invstd·(dy − mean(dy) − y·mean(dy·y)).
  return backward(dy, y, invstd, at::Tensor(), at::Tensor(), true, false).dx;
}

BatchNormGradients channels_last_batch_norm_backward(const at::Tensor& dy, const at::Tensor& x,
                                                     const at::Tensor& weight,
                                                     const at::Tensor& mean,
                                                     const at::Tensor& invstd, bool input_grad,
                                                     bool affine_grads) {
  TORCH_CHECK(channels_last_batch_norm_applies(x), "channels-last BatchNorm: not for this input");
  RECORD_FUNCTION("nasx::channels_last_batch_norm_backward", std::vector<c10::IValue>{});
  return backward(dy, x, weight, mean, invstd, input_grad, affine_grads);
}

}  // namespace nasx
