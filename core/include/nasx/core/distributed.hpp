#pragma once
/// Data-parallel runs on c10d: the ranks of one search, connected by a TCPStore and a
/// Gloo process group (the transport PyTorch's DistributedDataParallel uses on CPU), and
/// by shared memory for the small all-reduces when all ranks share a machine.
/// The SDK side (what is averaged, sharded, synchronized) is nasx/distributed.hpp.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nasx/distributed.hpp"

namespace nasx::core {

/// Where this process stands among the ranks.
struct RankSetup {
  int rank = 0;
  int world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};

/// The ranks given by the environment, as torchrun sets them (RANK, WORLD_SIZE,
/// MASTER_ADDR, MASTER_PORT) or as srun does (SLURM_PROCID, SLURM_NTASKS, with
/// MASTER_ADDR and MASTER_PORT given by the job script); nullopt when neither is set or
/// there is one rank. Throws ConfigError naming a variable that is missing or malformed.
std::optional<RankSetup> ranks_from_environment();

/// This process's connection to the other ranks; implements the SDK's Communicator.
class ProcessGroup final : public Communicator {
 public:
  /// Connects to the others (rank 0 serves the store); throws Error when they do not
  /// all arrive within `timeout_seconds`.
  explicit ProcessGroup(const RankSetup& setup, int timeout_seconds = 300);
  ~ProcessGroup() override;

  int rank() const override;
  int world_size() const override;
  /// Tensors up to SharedMemoryCollectives::kSlotBytes go through shared memory when
  /// every rank runs on this machine (unless NASX_SHARED_MEMORY=0), the rest over Gloo.
  void all_reduce_sum(std::vector<at::Tensor>& tensors) override;
  void broadcast(std::vector<at::Tensor>& tensors, int root) override;

  /// Rank 0's `text` under `key` on every rank (through the store): the run folder's
  /// path, a step's metrics. Every rank calls it with the same key.
  std::string share_from_root(const std::string& key, const std::string& text);

  /// "shared memory" or "Gloo": how small all-reduces travel.
  std::string transport() const;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

/// Installs a process group (or nothing) and the sync_batchnorm flag in the SDK for a
/// search's steps; the destructor or release() uninstalls them (the answer, the
/// selection and the training afterwards run on rank 0 alone).
class DataParallelScope {
 public:
  DataParallelScope(ProcessGroup* group, bool sync_batchnorm);
  ~DataParallelScope();
  void release();
  DataParallelScope(const DataParallelScope&) = delete;
  DataParallelScope& operator=(const DataParallelScope&) = delete;

 private:
  bool active_ = false;
};

/// `nasx run|resume ... --nproc N`: starts N copies of `binary` with `args` (the same
/// command without --nproc) and the rank variables, on a free local port. Rank 0 keeps
/// the terminal; the others' standard output is dropped (their errors still show, each
/// line prefixed with the rank). When one rank fails, the others are stopped. Returns
/// rank 0's exit status, or the first failing rank's.
int launch_local_ranks(int nproc, const std::string& binary, const std::vector<std::string>& args);

/// Throws a ConfigError saying what to do where this nasx is built without Gloo (no
/// data-parallel ranks); nothing otherwise.
void require_gloo();

}  // namespace nasx::core
