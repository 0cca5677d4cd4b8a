// c10d for data-parallel runs: a TCPStore (rank 0 serves it) and a Gloo process group.

#include "nasx/core/distributed.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>

#if defined(NASX_WITH_GLOO)
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "nasx/core/host_context.hpp"
#include "nasx/core/process.hpp"
#include "nasx/core/shared_memory_collectives.hpp"
#include "nasx/error.hpp"

namespace nasx::core {

namespace {

std::optional<std::string> environment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

int integer_variable(const char* name, const std::string& text) {
  try {
    size_t used = 0;
    const int value = std::stoi(text, &used);
    if (used == text.size() && value >= 0) return value;
  } catch (const std::exception&) {
  }
  throw ConfigError(std::string("environment variable ") + name + "=" + text +
                    " is not a non-negative integer");
}

/// The first line of an exception's message (c10d's carry a backtrace after it).
std::string first_line(const std::exception& e) {
  const std::string what = e.what();
  return what.substr(0, what.find('\n'));
}

/// A TCP port nobody listens on now (the kernel's choice), for a local launch.
int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error(std::string("cannot open a socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    throw Error(std::string("cannot find a free local port: ") + std::strerror(errno));
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

}  // namespace

std::optional<RankSetup> ranks_from_environment() {
  RankSetup setup;
  const auto rank = environment("RANK"), world = environment("WORLD_SIZE");
  const auto slurm_rank = environment("SLURM_PROCID"), slurm_world = environment("SLURM_NTASKS");
  if (rank || world) {
    if (!rank || !world)
      throw ConfigError("RANK and WORLD_SIZE must be set together (as torchrun sets them)");
    setup.rank = integer_variable("RANK", *rank);
    setup.world_size = integer_variable("WORLD_SIZE", *world);
  } else if (slurm_rank && slurm_world && environment("MASTER_ADDR")) {
    // Under srun: one task per rank. Without MASTER_ADDR an ordinary job of one task
    // (a sweep's array task, say) is not a data-parallel run.
    setup.rank = integer_variable("SLURM_PROCID", *slurm_rank);
    setup.world_size = integer_variable("SLURM_NTASKS", *slurm_world);
  } else {
    return std::nullopt;
  }
  if (setup.world_size < 1 || setup.rank >= setup.world_size)
    throw ConfigError("rank " + std::to_string(setup.rank) + " of " +
                      std::to_string(setup.world_size) + " ranks does not exist");
  if (setup.world_size == 1) return std::nullopt;
  const auto addr = environment("MASTER_ADDR"), port = environment("MASTER_PORT");
  if (!addr || !port)
    throw ConfigError(
        "a data-parallel rank needs MASTER_ADDR and MASTER_PORT (the address and a free port "
        "of rank 0's machine); nasx run --nproc N sets them for ranks on one machine");
  setup.master_addr = *addr;
  setup.master_port = integer_variable("MASTER_PORT", *port);
  if (setup.master_port == 0 || setup.master_port > 65535)
    throw ConfigError("MASTER_PORT=" + *port + " is not a port (1-65535)");
  return setup;
}

struct ProcessGroup::State {
  RankSetup setup;
  c10::intrusive_ptr<c10d::Store> store;
#if defined(NASX_WITH_GLOO)
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
#endif
  std::unique_ptr<SharedMemoryCollectives> shared;  // when every rank is on this machine
};

namespace {

/// This machine and this boot: ranks that report the same share /dev/shm.
std::string machine_identity() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string boot_id;
  std::getline(boot, boot_id);
  return std::string(host) + " " + boot_id;
}

std::string as_text(const std::vector<uint8_t>& bytes) { return {bytes.begin(), bytes.end()}; }
std::vector<uint8_t> as_bytes(const std::string& text) { return {text.begin(), text.end()}; }

/// The shared-memory transport when every rank runs on this machine and each could map
/// the segment (all ranks agree, through Gloo); nullptr otherwise, or with
/// NASX_SHARED_MEMORY=0. Rank 0 names the segment and removes its name once all have
/// mapped it, so nothing is left in /dev/shm whatever happens later.
std::unique_ptr<SharedMemoryCollectives> connect_shared_memory(ProcessGroup::State& state,
                                                               int timeout_seconds) {
  const RankSetup& setup = state.setup;
  const auto disabled = environment("NASX_SHARED_MEMORY");
  if (disabled && *disabled == "0") return nullptr;
  const std::string machine = machine_identity();
  state.store->set("nasx/machine/" + std::to_string(setup.rank), as_bytes(machine));
  std::string name;
  std::unique_ptr<SharedMemoryCollectives> shared;
  std::string failure;
  if (setup.rank == 0) {
    bool one_machine = true;
    for (int r = 1; r < setup.world_size; ++r)
      one_machine &= as_text(state.store->get("nasx/machine/" + std::to_string(r))) == machine;
    if (one_machine) {
      name = "/nasx-" + std::to_string(::getpid()) + "-" + std::to_string(setup.master_port);
      try {
        shared =
            std::make_unique<SharedMemoryCollectives>(name, 0, setup.world_size, timeout_seconds);
      } catch (const Error& e) {
        failure = e.what();
        name.clear();
      }
    }
    state.store->set("nasx/shared_memory", as_bytes(name));
  } else {
    name = as_text(state.store->get("nasx/shared_memory"));
    if (!name.empty()) {
      try {
        shared = std::make_unique<SharedMemoryCollectives>(name, setup.rank, setup.world_size,
                                                           timeout_seconds);
      } catch (const Error& e) {
        failure = e.what();
      }
    }
  }
  // Every rank knows the same name: no segment (ranks on several machines, or rank 0 could
  // not make one) means no collective here either.
  if (name.empty()) {
    if (!failure.empty())
      std::cerr << "nasx: rank 0: " << failure << "; collectives go over Gloo\n";
    return nullptr;
  }
  std::vector<at::Tensor> mapped = {at::full({1}, shared ? 1.0 : 0.0)};
#if defined(NASX_WITH_GLOO)
  state.group->allreduce(mapped)->wait();
#endif
  if (setup.rank == 0 && shared) shared->unlink();
  if (mapped[0].item<double>() < setup.world_size) {
    if (!failure.empty())
      std::cerr << "nasx: rank " << setup.rank << ": " << failure << "; collectives go over Gloo\n";
    return nullptr;
  }
  return shared;
}

}  // namespace

ProcessGroup::ProcessGroup(const RankSetup& setup, int timeout_seconds)
    : state_(std::make_unique<State>()) {
  require_gloo();
  state_->setup = setup;
  const std::chrono::milliseconds timeout(static_cast<int64_t>(timeout_seconds) * 1000);
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(setup.master_port);
    options.isServer = setup.rank == 0;
    options.numWorkers = static_cast<std::size_t>(setup.world_size);
    options.waitWorkers = true;
    options.timeout = timeout;
    state_->store = c10::make_intrusive<c10d::TCPStore>(setup.master_addr, options);
#if defined(NASX_WITH_GLOO)
    auto gloo = c10d::ProcessGroupGloo::Options::create();
    gloo->timeout = timeout;
    gloo->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    state_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(state_->store, setup.rank,
                                                                setup.world_size, gloo);
#endif
    state_->shared = connect_shared_memory(*state_, timeout_seconds);
  } catch (const std::exception& e) {
    throw Error("rank " + std::to_string(setup.rank) + " of " + std::to_string(setup.world_size) +
                " cannot reach the others at " + setup.master_addr + ":" +
                std::to_string(setup.master_port) + " (" + first_line(e) +
                "); check MASTER_ADDR/MASTER_PORT and that every rank was started");
  }
}

ProcessGroup::~ProcessGroup() = default;

int ProcessGroup::rank() const { return state_->setup.rank; }
int ProcessGroup::world_size() const { return state_->setup.world_size; }

std::string ProcessGroup::transport() const { return state_->shared ? "shared memory" : "Gloo"; }

void ProcessGroup::all_reduce_sum(std::vector<at::Tensor>& tensors) {
  if (state_->shared && state_->shared->fits(tensors))
    return state_->shared->all_reduce_sum(tensors);
  try {
#if defined(NASX_WITH_GLOO)
    state_->group->allreduce(tensors)->wait();
#endif
  } catch (const std::exception& e) {
    throw Error("rank " + std::to_string(rank()) + ": an all-reduce with the other ranks failed (" +
                first_line(e) + "); another rank has probably stopped");
  }
}

void ProcessGroup::broadcast(std::vector<at::Tensor>& tensors, int root) {
  try {
#if defined(NASX_WITH_GLOO)
    c10d::BroadcastOptions options;
    options.rootRank = root;
    state_->group->broadcast(tensors, options)->wait();
#endif
  } catch (const std::exception& e) {
    throw Error("rank " + std::to_string(rank()) + ": a broadcast from rank " +
                std::to_string(root) + " failed (" + first_line(e) + ")");
  }
}

std::string ProcessGroup::share_from_root(const std::string& key, const std::string& text) {
  try {
    if (rank() == 0) {
      state_->store->set(key, as_bytes(text));
      return text;
    }
    return as_text(state_->store->get(key));
  } catch (const std::exception& e) {
    throw Error("rank " + std::to_string(rank()) + ": no '" + key + "' from rank 0 (" +
                first_line(e) + "); rank 0 has probably stopped");
  }
}

DataParallelScope::DataParallelScope(ProcessGroup* group, bool sync) : active_(group != nullptr) {
  if (!active_) return;
  set_communicator(group);
  set_sync_batchnorm(sync);
}

// Called before any rank starts (the launcher, a sweep's checks) and in a rank started
// some other way.
void require_gloo() {
#if !defined(NASX_WITH_GLOO)
  throw ConfigError(
      "this nasx is built without Gloo (its LibTorch's include folder has no gloo/ headers, "
      "or it was configured with -DNASX_GLOO=OFF), so it runs no data-parallel ranks: run "
      "without --nproc, or build nasx where Gloo's headers are installed (Debian: "
      "libgloo-dev)");
#endif
}

DataParallelScope::~DataParallelScope() { release(); }

void DataParallelScope::release() {
  if (!active_) return;
  set_communicator(nullptr);
  set_sync_batchnorm(false);
  active_ = false;
}

int launch_local_ranks(int nproc, const std::string& binary, const std::vector<std::string>& args) {
  require_gloo();
  const int port = free_local_port();
  std::vector<pid_t> ranks;
  for (int rank = 0; rank < nproc; ++rank) {
    const pid_t pid = ::fork();
    if (pid < 0) throw Error(std::string("cannot start a rank: ") + std::strerror(errno));
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // the launcher gone, the ranks go too
      ::setenv("RANK", std::to_string(rank).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      if (rank > 0) {
        const int null = ::open("/dev/null", O_WRONLY);
        if (null >= 0) ::dup2(null, STDOUT_FILENO);
      }
      std::vector<std::string> words = {binary};
      words.insert(words.end(), args.begin(), args.end());
      exec_or_exit(std::move(words), false);
    }
    ranks.push_back(pid);
  }
  int result = 0;
  bool failed = false;
  std::chrono::steady_clock::time_point kill_at;
  size_t running = ranks.size();
  while (running > 0) {
    int status = 0;
    // After a failure, poll: a rank stuck in a collective gets SIGKILL after 15 s.
    const pid_t pid = ::waitpid(-1, &status, failed ? WNOHANG : 0);
    if (pid == 0) {
      if (std::chrono::steady_clock::now() > kill_at)
        for (const pid_t other : ranks)
          if (other > 0) ::kill(other, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (pid < 0) {
      if (errno == EINTR) continue;  // Ctrl-C reached the ranks too; they stop at a checkpoint
      break;
    }
    const auto it = std::find(ranks.begin(), ranks.end(), pid);
    if (it == ranks.end()) continue;
    --running;
    const int rank = static_cast<int>(it - ranks.begin());
    *it = -1;  // reaped: never signalled again
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (rank == 0 && !failed) result = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    if (!ok && !failed) {
      failed = true;
      kill_at = std::chrono::steady_clock::now() + std::chrono::seconds(15);
      result = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
      if (rank > 0 || !WIFEXITED(status))
        std::cerr << "nasx: rank " << rank << " of " << nproc
                  << " ended: " << exit_description(status) << "; stopping the other ranks\n";
      for (const pid_t other : ranks)
        if (other > 0) ::kill(other, SIGTERM);
    }
  }
  return result;
}

}  // namespace nasx::core
