#include "darts/mixture.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include "darts/float8.hpp"

namespace nasx::darts {

namespace {

/// Rows (pixels) per block: fixed, not derived from the thread count, so the weights'
/// per-block gradient sums, and their total, are the same however blocks are shared out.
constexpr int64_t kBlockRows = 128;

/// The operands as [rows, channels] matrices: row r of term k starts at
/// terms[k] + r·row_stride[k], plus e·C for edge e when the term is per edge.
struct Layout {
  int64_t rows = 0, edges = 0, channels = 0, operations = 0;
  std::vector<const float*> terms;
  std::vector<int64_t> row_stride;  // E·C (one output per edge) or C (shared)
  std::vector<int64_t> edge_step;   // C or 0
};

Layout layout_of(at::TensorList terms, int64_t edges, int64_t channels) {
  Layout l;
  l.edges = edges;
  l.channels = channels;
  l.operations = static_cast<int64_t>(terms.size());
  l.rows = terms[0].size(0) * terms[0].size(2) * terms[0].size(3);
  for (const at::Tensor& t : terms) {
    const bool per_edge = t.size(1) == edges * l.channels;
    l.terms.push_back(t.data_ptr<float>());
    l.row_stride.push_back(t.size(1));
    l.edge_step.push_back(per_edge ? l.channels : 0);
  }
  return l;
}

/// out[c] = t[c]·w (first) or out[c] + t[c]·w, eight channels at a time.
inline __attribute__((always_inline)) void scaled_add(float* out, const float* t, float w,
                                                      int64_t channels, bool first) {
  const float8 wv = {w, w, w, w, w, w, w, w};
  int64_t c = 0;
  for (; c + 8 <= channels; c += 8)
    store8(out + c, first ? load8(t + c) * wv : load8(out + c) + load8(t + c) * wv);
  for (; c < channels; ++c) out[c] = first ? t[c] * w : out[c] + t[c] * w;
}

/// acc[c] += g[c]·t[c], eight channels at a time.
inline __attribute__((always_inline)) void multiply_accumulate(float* acc, const float* g,
                                                               const float* t, int64_t channels) {
  int64_t c = 0;
  for (; c + 8 <= channels; c += 8) store8(acc + c, load8(acc + c) + load8(g + c) * load8(t + c));
  for (; c < channels; ++c) acc[c] += g[c] * t[c];
}

/// outs[e][r, c] = Σ_k w[e, k]·term_k[r, ...] for the rows [first, first + n), k in
/// order. kChannels: C when known at compile time (a multiple of eight: a row's sums are
/// then held in registers over the terms, and the loops over channels unroll), else 0.
template <int kChannels>
NASX_AVX2_WHERE_PRESENT void mix_rows(const Layout& l, const float* w, float* const* outs,
                                      int64_t first, int64_t n) {
  const int64_t C = kChannels > 0 ? kChannels : l.channels, E = l.edges, K = l.operations;
  for (int64_t r = first; r < first + n; ++r)
    for (int64_t e = 0; e < E; ++e) {
      float* o = outs[e] + r * C;
      if constexpr (kChannels > 0) {
        constexpr int V = kChannels / 8;
        float8 sum[V] = {};
        for (int64_t k = 0; k < K; ++k) {
          const float* t = l.terms[k] + r * l.row_stride[k] + e * l.edge_step[k];
          const float wk = w[e * K + k];
          const float8 wv = {wk, wk, wk, wk, wk, wk, wk, wk};
          for (int v = 0; v < V; ++v)
            sum[v] = k == 0 ? load8(t + 8 * v) * wv : sum[v] + load8(t + 8 * v) * wv;
        }
        for (int v = 0; v < V; ++v) store8(o + 8 * v, sum[v]);
      } else {
        for (int64_t k = 0; k < K; ++k)
          scaled_add(o, l.terms[k] + r * l.row_stride[k] + e * l.edge_step[k], w[e * K + k], C,
                     k == 0);
      }
    }
}

/// For the rows [first, first + n), with g = edge e's output gradient grads[e][r, :]:
/// each term's gradient (g·w[e, k] per edge; summed over the edges in order for a shared
/// term), and acc[(e·K + k)·C + c] += g·term_k per channel lane, the rows in order (acc
/// null: no weights' gradient). Term by term and edge by edge over the block's rows, so
/// that with kChannels known (as for mix_rows) a lane's running sum stays in a register
/// over the rows: kept in memory, every row's sum waited on a store and a load. The order
/// of every sum is the same either way.
template <int kChannels>
NASX_AVX2_WHERE_PRESENT void mixture_backward_rows(const Layout& l, const float* w,
                                                   const float* const* grads,
                                                   float* const* term_grads, float* acc,
                                                   int64_t first, int64_t n) {
  const int64_t C = kChannels > 0 ? kChannels : l.channels, E = l.edges, K = l.operations;
  for (int64_t k = 0; k < K; ++k) {
    const bool shared = l.edge_step[k] == 0;
    const int64_t stride = l.row_stride[k];
    for (int64_t e = 0; e < E; ++e) {
      const float* t = l.terms[k] + e * l.edge_step[k];
      float* d = term_grads[k] ? term_grads[k] + (shared ? 0 : e * C) : nullptr;
      const bool d_first = !shared || e == 0;
      const float wk = w[e * K + k];
      float* lane = acc != nullptr ? acc + (e * K + k) * C : nullptr;
      if constexpr (kChannels > 0) {
        constexpr int V = kChannels / 8;
        const float8 wv = {wk, wk, wk, wk, wk, wk, wk, wk};
        float8 sum[V] = {};
        if (lane != nullptr)  // the weights' gradient, not wanted by a weight step
          for (int v = 0; v < V; ++v) sum[v] = load8(lane + 8 * v);
        for (int64_t r = first; r < first + n; ++r) {
          const float* g = grads[e] + r * C;
          for (int v = 0; v < V; ++v) {
            const float8 gv = load8(g + 8 * v);
            if (lane != nullptr) sum[v] = sum[v] + gv * load8(t + r * stride + 8 * v);
            if (d != nullptr) {
              float* out = d + r * stride + 8 * v;
              store8(out, d_first ? gv * wv : load8(out) + gv * wv);
            }
          }
        }
        if (lane != nullptr)
          for (int v = 0; v < V; ++v) store8(lane + 8 * v, sum[v]);
      } else {
        for (int64_t r = first; r < first + n; ++r) {
          const float* g = grads[e] + r * C;
          if (lane != nullptr) multiply_accumulate(lane, g, t + r * stride, C);
          if (d != nullptr) scaled_add(d + r * stride, g, wk, C, d_first);
        }
      }
    }
  }
}

/// Calls kernel<C>(...) with the channel count fixed at compile time where it is one of
/// the DARTS widths, kernel<0> otherwise.
template <template <int> class Kernel, typename... Args>
void with_channels(int64_t channels, Args&&... args) {
  switch (channels) {
    case 8:
      return Kernel<8>::run(args...);
    case 16:
      return Kernel<16>::run(args...);
    case 32:
      return Kernel<32>::run(args...);
    case 64:
      return Kernel<64>::run(args...);
    default:
      return Kernel<0>::run(args...);
  }
}

template <int kChannels>
struct MixRows {
  template <typename... Args>
  static void run(Args&&... args) {
    mix_rows<kChannels>(args...);
  }
};

template <int kChannels>
struct MixtureBackwardRows {
  template <typename... Args>
  static void run(Args&&... args) {
    mixture_backward_rows<kChannels>(args...);
  }
};

int64_t block_count(int64_t rows) { return (rows + kBlockRows - 1) / kBlockRows; }

template <typename PerBlock>
void for_each_block(int64_t rows, const PerBlock& per_block) {
  at::parallel_for(0, block_count(rows), 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t first = b * kBlockRows;
      per_block(b, first, std::min(kBlockRows, rows - first));
    }
  });
}

/// The chain of tensor operations: the general path (any layout, type or device, and a
/// backward with create_graph), accumulated in place — one output buffer instead of a
/// temporary per term.
std::vector<at::Tensor> mixture_by_tensor_ops(const at::Tensor& weights,
                                              const std::vector<at::Tensor>& terms, int64_t edges,
                                              int64_t channels) {
  at::Tensor out;
  for (size_t k = 0; k < terms.size(); ++k) {
    const at::Tensor& t = terms[k];
    // [B, E*C, H, W] -> [B, E, C, H, W]; a shared term broadcasts from [B, 1, C, H, W].
    const at::Tensor term = t.size(1) == edges * channels && edges > 1
                                ? t.reshape({t.size(0), edges, channels, t.size(2), t.size(3)})
                                : t.unsqueeze(1);
    const at::Tensor w = weights.select(1, static_cast<int64_t>(k)).reshape({1, edges, 1, 1, 1});
    // A shared term may come first: `out` then has its full [B, E, ...] shape from the
    // product, as every later addcmul_ needs.
    if (out.defined())
      out.addcmul_(term, w);
    else
      out = term * w;
  }
  return out.unbind(1);
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class WeightedMixtureFunction : public torch::autograd::Function<WeightedMixtureFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& weights,
                               at::TensorList terms, int64_t edges, int64_t channels) {
    std::vector<at::Tensor> saved = {weights};
    for (const at::Tensor& t : terms) saved.push_back(t);
    ctx->save_for_backward(saved);
    ctx->saved_data["edges"] = edges;
    ctx->saved_data["channels"] = channels;
    const Layout l = layout_of(terms, edges, channels);
    const at::Tensor w = weights.contiguous();
    const at::Tensor& first = terms[0];
    variable_list outs;
    std::vector<float*> out_data;
    for (int64_t e = 0; e < edges; ++e) {
      outs.push_back(at::empty({first.size(0), channels, first.size(2), first.size(3)},
                               first.options().memory_format(at::MemoryFormat::ChannelsLast)));
      out_data.push_back(outs.back().data_ptr<float>());
    }
    for_each_block(l.rows, [&](int64_t, int64_t begin, int64_t n) {
      with_channels<MixRows>(l.channels, l, w.data_ptr<float>(), out_data.data(), begin, n);
    });
    // An edge whose output takes no part in the loss gets no gradient: not zeros to read.
    ctx->set_materialize_grads(false);
    return outs;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& weights = saved[0];
    const std::vector<at::Tensor> terms(saved.begin() + 1, saved.end());
    const int64_t edges = ctx->saved_data["edges"].toInt();
    const int64_t channels = ctx->saved_data["channels"].toInt();
    const int64_t K = static_cast<int64_t>(terms.size());
    variable_list grads(static_cast<size_t>(K) + 3);  // weights, terms, edges, channels
    if (at::GradMode::is_enabled()) {
      // create_graph: the same function as tensor operations, differentiated by autograd.
      std::vector<at::Tensor> inputs;
      std::vector<size_t> positions;
      for (size_t i = 0; i < saved.size(); ++i)
        if (ctx->needs_input_grad(i) && saved[i].requires_grad()) {
          inputs.push_back(saved[i]);
          positions.push_back(i);
        }
      if (inputs.empty()) return grads;
      const std::vector<at::Tensor> all = mixture_by_tensor_ops(weights, terms, edges, channels);
      std::vector<at::Tensor> outs, out_grads;
      for (size_t e = 0; e < all.size(); ++e)
        if (grad_outputs[e].defined()) {
          outs.push_back(all[e]);
          out_grads.push_back(grad_outputs[e]);
        }
      if (outs.empty()) return grads;
      const variable_list g = torch::autograd::grad(outs, inputs, out_grads,
                                                    /*retain_graph=*/true, /*create_graph=*/true,
                                                    /*allow_unused=*/true);
      for (size_t i = 0; i < positions.size(); ++i) grads[positions[i]] = g[i];
      return grads;
    }
    const Layout l = layout_of(terms, edges, channels);
    // Each edge's output gradient as a [rows, C] matrix; zeros for an edge without one.
    std::vector<at::Tensor> out_grads;
    std::vector<const float*> grad_data;
    for (int64_t e = 0; e < edges; ++e) {
      const at::Tensor& g = grad_outputs[static_cast<size_t>(e)];
      out_grads.push_back(
          g.defined()
              ? g.contiguous(at::MemoryFormat::ChannelsLast)
              : at::zeros({terms[0].size(0), channels, terms[0].size(2), terms[0].size(3)},
                          terms[0].options().memory_format(at::MemoryFormat::ChannelsLast)));
      grad_data.push_back(out_grads.back().data_ptr<float>());
    }
    const at::Tensor w = weights.contiguous();
    std::vector<float*> term_grads(static_cast<size_t>(K), nullptr);
    for (int64_t k = 0; k < K; ++k) {
      if (!ctx->needs_input_grad(static_cast<size_t>(k) + 1)) continue;
      grads[k + 1] = at::empty_like(terms[k], at::MemoryFormat::ChannelsLast);
      term_grads[k] = grads[k + 1].data_ptr<float>();
    }
    const bool want_weights = ctx->needs_input_grad(0);
    const int64_t lanes = edges * K * l.channels;
    const int64_t blocks = block_count(l.rows);
    std::vector<float> partial(want_weights ? static_cast<size_t>(blocks * lanes) : 0, 0.0f);
    for_each_block(l.rows, [&](int64_t b, int64_t begin, int64_t n) {
      with_channels<MixtureBackwardRows>(
          l.channels, l, w.data_ptr<float>(), grad_data.data(), term_grads.data(),
          want_weights ? partial.data() + b * lanes : nullptr, begin, n);
    });
    if (want_weights) {
      // d/dw[e, k] = Σ over rows and channels of g·term_k: blocks, then channels, in order.
      at::Tensor grad_w = at::empty({edges, K}, weights.options());
      float* gw = grad_w.data_ptr<float>();
      for (int64_t ek = 0; ek < edges * K; ++ek) {
        double total = 0;
        for (int64_t b = 0; b < blocks; ++b)
          for (int64_t c = 0; c < l.channels; ++c)
            total += partial[b * lanes + ek * l.channels + c];
        gw[ek] = static_cast<float>(total);
      }
      grads[0] = grad_w;
    }
    return grads;
  }
};

/// NASX_FUSED_MIXTURE=0 takes the chain of tensor operations everywhere: the arithmetic of
/// nasx before this kernel, bit for bit, to reproduce an older run exactly.
bool fused_mixture_enabled() {
  static const bool enabled = [] {
    const char* value = std::getenv("NASX_FUSED_MIXTURE");
    return value == nullptr || std::string(value) != "0";
  }();
  return enabled;
}

}  // namespace

bool weighted_mixture_has_kernel(const at::Tensor& weights, const std::vector<at::Tensor>& terms,
                                 int64_t edges, int64_t channels) {
  if (!fused_mixture_enabled()) return false;
  // One edge: the chain of tensor operations streams as fast (measured), and is LibTorch's.
  if (terms.empty() || edges < 2 || weights.dim() != 2 || weights.size(0) != edges ||
      weights.size(1) != static_cast<int64_t>(terms.size()) || !weights.device().is_cpu() ||
      weights.scalar_type() != at::kFloat)
    return false;
  bool channels_last = false;
  for (const at::Tensor& t : terms) {
    if (t.layout() != at::kStrided || t.dim() != 4 || !t.device().is_cpu() ||
        t.scalar_type() != at::kFloat || t.size(0) != terms[0].size(0) ||
        t.size(2) != terms[0].size(2) || t.size(3) != terms[0].size(3))
      return false;
    if (t.size(1) != edges * channels && t.size(1) != channels) return false;
    channels_last = channels_last || t.is_contiguous(at::MemoryFormat::ChannelsLast);
  }
  // A network in channels-last order (a term in it says so); a term in another layout
  // (FactorizedReduce's output, its copies' halves interleaved) is copied into it.
  return channels_last;
}

std::vector<at::Tensor> weighted_mixture(const at::Tensor& weights,
                                         const std::vector<at::Tensor>& terms, int64_t edges,
                                         int64_t channels) {
  TORCH_CHECK(!terms.empty(), "weighted_mixture: no terms");
  if (!weighted_mixture_has_kernel(weights, terms, edges, channels))
    return mixture_by_tensor_ops(weights, terms, edges, channels);
  std::vector<at::Tensor> rows;  // every term as a [pixels, channels] matrix
  for (const at::Tensor& t : terms) rows.push_back(t.contiguous(at::MemoryFormat::ChannelsLast));
  return WeightedMixtureFunction::apply(weights, at::TensorList(rows), edges, channels);
}

}  // namespace nasx::darts
