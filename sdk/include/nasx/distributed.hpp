#pragma once
/// Data-parallel search, the mechanism of PyTorch's DistributedDataParallel: every rank
/// holds the same supernet, computes gradients on its slice of each minibatch, and the
/// gradients are averaged over the ranks before any optimizer step, so the ranks stay
/// identical. The host owns the transport (c10d: Gloo on CPU) and installs it here for
/// the search; with no communicator installed (one process) everything below is the
/// identity, so strategies need no code of their own for it.
///
/// What the SDK does with it: the gradients of bilevel.hpp are averaged (weights and
/// architecture parameters, every term of the second-order and mixed-level gradients);
/// GradientSearch gives each rank its slice of every batch (shard_batch); supernet
/// BatchNorm layers normalize with per-rank batch statistics by default (as DDP does)
/// or with the statistics of the whole batch over all ranks when sync_batchnorm is on
/// (as SyncBatchNorm does).

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "nasx/data.hpp"
#include "nasx/export.hpp"

namespace torch::nn {
class BatchNorm2d;
}

namespace nasx {

/// The ranks of one data-parallel run. Collectives are blocking; every rank must call
/// them in the same order with tensors of the same shapes.
class NASX_API Communicator {
 public:
  virtual ~Communicator();
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  /// Element-wise sum over the ranks, in place (contiguous tensors).
  virtual void all_reduce_sum(std::vector<at::Tensor>& tensors) = 0;
  /// `root`'s values into every rank's tensors, in place.
  virtual void broadcast(std::vector<at::Tensor>& tensors, int root) = 0;
};

/// The communicator of this process's search, or nullptr (one process). Installed by the
/// host for the search steps only; not owned.
NASX_API Communicator* communicator();
NASX_API void set_communicator(Communicator* communicator);
/// world_size() of the installed communicator, 1 when none.
NASX_API int world_size();

/// Replaces each gradient by its mean over the ranks (no-op in one process).
NASX_API void average_over_ranks(std::vector<at::Tensor>& tensors);

/// This rank's rows of a minibatch: with W ranks, rank r takes rows [r·B/W, (r+1)·B/W),
/// so the ranks together see exactly the one-process batch. B must divide by W (the
/// host checks the batch size before the run starts).
NASX_API Batch shard_batch(const Batch& batch);

/// Whether supernet BatchNorm layers use the whole batch's statistics over all ranks.
NASX_API bool sync_batchnorm();
NASX_API void set_sync_batchnorm(bool on);

/// A BatchNorm2d layer applied to `x`, over channels [copy·C, (copy+1)·C) of the layer
/// when `copies` > 1 (a grouped edge's copy alone). In training mode with a communicator
/// and sync_batchnorm() on, mean and variance are those of the whole batch over all
/// ranks, the backward pass all-reducing its sums too, and the running statistics take
/// the unbiased global variance (SyncBatchNorm). A layer without affine parameters in
/// training (running statistics tracked with a momentum), on the way to a backward pass,
/// keeps its output instead of its input for the backward: on the CPU the same values
/// forward (LibTorch's kernel), the derivatives summed in another order, one activation
/// less held per layer. An affine layer in training on channels-last float CPU tensors
/// (running statistics tracked with a momentum) runs the SDK's kernels: the layer's
/// output, running statistics and gradients bit for bit, in less time. Otherwise exactly
/// the layer's own forward.
NASX_API at::Tensor batch_norm(torch::nn::BatchNorm2d bn, const at::Tensor& x, int64_t copy = 0,
                               int64_t copies = 1);

}  // namespace nasx
