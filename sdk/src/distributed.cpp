#include "nasx/distributed.hpp"

#include <ATen/ATen.h>
#include <torch/nn/modules/batchnorm.h>

#include "affine_batch_norm.hpp"
#include "batch_norm_route.hpp"
#include "channels_last_batch_norm.hpp"
#include "nasx/error.hpp"
#include "output_saving_batch_norm.hpp"
#include "synchronized_batch_norm.hpp"

namespace nasx {

namespace {

Communicator* g_communicator = nullptr;
bool g_sync_batchnorm = false;

/// Rows `copy` of `copies` equal blocks (dim 0); undefined stays undefined.
at::Tensor block(const at::Tensor& t, int64_t copy, int64_t copies) {
  if (!t.defined() || copies == 1) return t;
  const int64_t rows = t.size(0) / copies;
  return t.narrow(0, copy * rows, rows);
}

}  // namespace

Communicator::~Communicator() = default;

Communicator* communicator() { return g_communicator; }
void set_communicator(Communicator* communicator) { g_communicator = communicator; }
int world_size() { return g_communicator ? g_communicator->world_size() : 1; }

void average_over_ranks(std::vector<at::Tensor>& tensors) {
  if (world_size() == 1 || tensors.empty()) return;
  // One flat buffer: one collective per call, not one per tensor.
  std::vector<at::Tensor> flat;
  for (const auto& t : tensors) flat.push_back(t.detach().reshape({-1}));
  std::vector<at::Tensor> buffer = {at::cat(flat)};
  g_communicator->all_reduce_sum(buffer);
  buffer[0].div_(static_cast<double>(g_communicator->world_size()));
  int64_t offset = 0;
  for (auto& t : tensors) {
    t = buffer[0].narrow(0, offset, t.numel()).view(t.sizes());
    offset += t.numel();
  }
}

Batch shard_batch(const Batch& batch) {
  const int ranks = world_size();
  if (ranks == 1) return batch;
  const int64_t rows = batch.labels.size(0);
  if (rows % ranks != 0)
    throw ConfigError("a batch of " + std::to_string(rows) + " cannot be split over " +
                      std::to_string(ranks) + " ranks; make data.batch_size a multiple of " +
                      std::to_string(ranks));
  const int64_t share = rows / ranks, start = share * g_communicator->rank();
  return {batch.images.narrow(0, start, share), batch.labels.narrow(0, start, share)};
}

bool sync_batchnorm() { return g_sync_batchnorm; }
void set_sync_batchnorm(bool on) { g_sync_batchnorm = on; }

BatchNormRoute batch_norm_route(const torch::nn::BatchNormOptions& o, bool training,
                                const at::Tensor& x) {
  BatchNormRoute r;
  r.synchronized = training && g_sync_batchnorm && world_size() > 1;
  // A search network's layer (no affine parameters) on the way to a backward pass keeps
  // its output instead of its input (less memory, same arithmetic forward).
  r.keeps_output = training && !r.synchronized && !o.affine() && o.track_running_stats() &&
                   o.momentum().has_value() && at::GradMode::is_enabled() && x.requires_grad();
  // A trained network's layer on channels-last floats: the SDK's kernels (LibTorch's bits,
  // its running sums in registers), where the layer's tensors fit them too.
  r.affine_kernel = training && !r.synchronized && o.affine() && o.track_running_stats() &&
                    o.momentum().has_value() && channels_last_batch_norm_applies(x);
  return r;
}

at::Tensor normalize(const BatchNormRoute& r, const torch::nn::BatchNormOptions& o, bool training,
                     const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                     const at::Tensor& mean, const at::Tensor& var) {
  const double momentum = o.momentum().value_or(0.1);
  if (r.keeps_output) return output_saving_batch_norm(x, mean, var, momentum, o.eps());
  if (r.synchronized) return synchronized_batch_norm(x, weight, bias, mean, var, momentum, o.eps());
  if (r.affine_kernel && affine_batch_norm_applies(x, weight, bias, mean, var))
    return affine_batch_norm(x, weight, bias, mean, var, momentum, o.eps());
  return at::batch_norm(x, weight, bias, mean, var, training, momentum, o.eps(),
                        at::globalContext().userEnabledCuDNN());
}

void count_batch(torch::nn::BatchNorm2d& bn) {
  if (!bn->is_training() || !bn->num_batches_tracked.defined()) return;
  at::NoGradGuard no_grad;
  bn->num_batches_tracked += 1;  // as the layer's own forward counts
}

at::Tensor batch_norm(torch::nn::BatchNorm2d bn, const at::Tensor& x, int64_t copy,
                      int64_t copies) {
  const auto& o = bn->options;
  const BatchNormRoute r = batch_norm_route(o, bn->is_training(), x);
  if (!r.synchronized && !r.keeps_output && !r.affine_kernel && copies == 1) return bn->forward(x);
  if (copies == 1) count_batch(bn);
  return normalize(r, o, bn->is_training(), x, block(bn->weight, copy, copies),
                   block(bn->bias, copy, copies), block(bn->running_mean, copy, copies),
                   block(bn->running_var, copy, copies));
}

}  // namespace nasx
