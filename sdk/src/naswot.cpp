#include "nasx/naswot.hpp"

#include <cstdint>
#include <limits>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "nasx/error.hpp"
#include "nasx/probe.hpp"
#include "nasx/space.hpp"

namespace nasx {

namespace {

/// [n, n] float64 counts of the units where rows i and j of `active` (bool [n, units])
/// agree. On CPU by packing each row into 64-bit words and counting differing bits
/// (units - popcount(xor)): a few milliseconds where a float matrix product of the
/// ±1 codes took 0.1-0.2 s per ReLU call with this LibTorch's BLAS. On other devices
/// through that product, s s^T = agreements - disagreements.
at::Tensor agreement_counts(const at::Tensor& active) {
  const int64_t n = active.size(0), units = active.size(1);
  if (!active.device().is_cpu()) {
    const at::Tensor signs = active.to(at::kFloat).mul_(2).sub_(1);
    const at::Tensor dot = units < (int64_t{1} << 24)
                               ? signs.mm(signs.t()).to(at::kDouble)
                               : signs.to(at::kDouble).mm(signs.to(at::kDouble).t());
    return dot.add_(static_cast<double>(units)).div_(2).cpu();
  }
  const at::Tensor bytes = active.to(at::kByte).contiguous();
  const uint8_t* data = bytes.data_ptr<uint8_t>();
  const int64_t words = (units + 63) / 64;
  std::vector<uint64_t> packed(static_cast<size_t>(n * words), 0);
  at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const uint8_t* row = data + i * units;
      uint64_t* out = packed.data() + i * words;
      for (int64_t u = 0; u < units; ++u) out[u >> 6] |= uint64_t{row[u] != 0} << (u & 63);
    }
  });
  at::Tensor counts = at::empty({n, n}, at::kDouble);
  double* k = counts.data_ptr<double>();
  at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const uint64_t* a = packed.data() + i * words;
      for (int64_t j = 0; j < n; ++j) {
        const uint64_t* b = packed.data() + j * words;
        int64_t differ = 0;
        for (int64_t w = 0; w < words; ++w) differ += __builtin_popcountll(a[w] ^ b[w]);
        k[i * n + j] = static_cast<double>(units - differ);
      }
    }
  });
  return counts;
}

}  // namespace

NaswotKernel naswot_kernel(Network& net, const at::Tensor& images) {
  const int64_t n = images.size(0);
  NaswotKernel result;
  at::Tensor kernel = at::zeros({n, n}, at::kDouble);
  {
    at::NoGradGuard no_grad;
    ReluObserver observer([&](const at::Tensor& input) {
      const at::Tensor active = input.reshape({n, -1}).gt(0);
      kernel.add_(agreement_counts(active));
      const int64_t units = active.size(1);
      ++result.relu_calls;
      result.units += units;
    });
    net.forward(images);
  }
  if (result.relu_calls == 0)
    throw Error(
        "the network runs no ReLU: the NASWOT score counts the binary codes of ReLU units, so "
        "it cannot score this network; use a scorer that does not rely on ReLUs");
  result.kernel = kernel;
  return result;
}

double naswot_log_determinant(const at::Tensor& kernel) {
  const auto [sign, log_abs] = at::linalg_slogdet(kernel.to(at::kDouble));
  if (sign.item<double>() == 0) return -std::numeric_limits<double>::infinity();
  return log_abs.item<double>();
}

double naswot_score(Network& net, const at::Tensor& images) {
  const bool was_training = net.is_training();
  net.train();
  double score = 0;
  try {
    score = naswot_log_determinant(naswot_kernel(net, images).kernel);
  } catch (...) {
    net.train(was_training);
    throw;
  }
  net.train(was_training);
  return score;
}

}  // namespace nasx
