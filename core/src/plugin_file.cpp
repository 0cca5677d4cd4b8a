#include "nasx/core/plugin_file.hpp"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include "nasx/error.hpp"
#include "nasx/plugin.hpp"
#include "nasx/version.hpp"

namespace nasx::core {

namespace {

#if defined(__x86_64__)
constexpr uint16_t kMachine = EM_X86_64;
constexpr const char* kMachineName = "x86-64";
#elif defined(__aarch64__)
constexpr uint16_t kMachine = EM_AARCH64;
constexpr const char* kMachineName = "AArch64";
#else
#error "nasx checks plugin files for x86-64 and AArch64 hosts"
#endif

/// The probe's exit status for "fails, and the host's own load will say why".
constexpr int kCleanFailure = 86;

constexpr const char* kRebuild = "; the file is damaged or incomplete (an interrupted copy?): "
                                 "rebuild or reinstall it, or remove it from the plugin folder";

[[noreturn]] void damaged(const std::string& path, const std::string& what) {
  throw PluginError(path + ": " + what + kRebuild);
}

template <typename T>
T read_at(const std::vector<char>& bytes, uint64_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

/// Whether [offset, offset + count * size) lies in a file of `file_size` bytes, without
/// overflow.
bool within(uint64_t offset, uint64_t count, uint64_t size, uint64_t file_size) {
  if (offset > file_size) return false;
  if (size != 0 && count > (file_size - offset) / size) return false;
  return true;
}

/// The probe costs a dlopen (tens of milliseconds per plugin); a file probed before and
/// unchanged since (same device, inode, size and modification time) is not probed again.
/// The record is a line per file in $XDG_CACHE_HOME/nasx/probed-plugins (~/.cache/...);
/// without a writable cache folder every file is probed.
std::string cache_file() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  if (xdg != nullptr && *xdg != '\0') return std::string(xdg) + "/nasx/probed-plugins";
  if (home != nullptr && *home != '\0') return std::string(home) + "/.cache/nasx/probed-plugins";
  return "";
}

std::string probe_key(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return "";
  return std::to_string(info.st_dev) + " " + std::to_string(info.st_ino) + " " +
         std::to_string(info.st_size) + " " + std::to_string(info.st_mtim.tv_sec) + "." +
         std::to_string(info.st_mtim.tv_nsec) + " " + path;
}

bool probed_before(const std::string& key) {
  const std::string file = cache_file();
  if (key.empty() || file.empty()) return false;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);)
    if (line == key) return true;
  return false;
}

void remember_probed(const std::string& key) {
  const std::string file = cache_file();
  if (key.empty() || file.empty()) return;
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(file).parent_path(), error);
  if (std::filesystem::file_size(file, error) > (1u << 20)) std::filesystem::remove(file, error);
  // One short O_APPEND write per line: concurrent nasx processes do not interleave.
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  const std::string line = key + "\n";
  (void)!::write(fd, line.data(), line.size());
  ::close(fd);
}

}  // namespace

void check_plugin_elf(const std::string& path, const std::string& entry_symbol) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw PluginError(path + ": cannot be read; check its permissions");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  const uint64_t size = bytes.size();
  if (size < sizeof(Elf64_Ehdr) || std::memcmp(bytes.data(), ELFMAG, SELFMAG) != 0)
    throw PluginError(path + ": not a shared library (" + std::to_string(size) +
                      " bytes, no ELF header); only plugins built with NASX_PLUGIN belong in a "
                      "plugin folder");
  const auto header = read_at<Elf64_Ehdr>(bytes, 0);
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_ident[EI_DATA] != ELFDATA2LSB ||
      header.e_machine != kMachine)
    throw PluginError(path + ": built for another machine (not 64-bit " + kMachineName +
                      "); rebuild it on this machine");
  if (header.e_type != ET_DYN)
    throw PluginError(path + ": an ELF file but not a shared library (a program or an object "
                             "file?); build plugins with nasx_add_plugin");
  if (header.e_phentsize != sizeof(Elf64_Phdr) ||
      !within(header.e_phoff, header.e_phnum, sizeof(Elf64_Phdr), size))
    damaged(path, "its program header table lies outside the file (" + std::to_string(size) +
                      " bytes)");
  std::vector<Elf64_Phdr> loaded;  // the PT_LOAD segments
  for (uint16_t i = 0; i < header.e_phnum; ++i) {
    const auto segment = read_at<Elf64_Phdr>(bytes, header.e_phoff + i * sizeof(Elf64_Phdr));
    if (segment.p_type != PT_LOAD && segment.p_type != PT_DYNAMIC) continue;
    if (!within(segment.p_offset, 1, segment.p_filesz, size))
      damaged(path, "a segment needs bytes up to " +
                        std::to_string(segment.p_offset + segment.p_filesz) +
                        " but the file has " + std::to_string(size));
    if (segment.p_type == PT_LOAD) loaded.push_back(segment);
  }
  const auto mapped = [&](uint64_t address, uint64_t length) {
    for (const Elf64_Phdr& segment : loaded)
      if (address >= segment.p_vaddr && address - segment.p_vaddr <= segment.p_memsz &&
          length <= segment.p_memsz - (address - segment.p_vaddr))
        return true;
    return false;
  };
  if (header.e_shoff == 0) return;  // no section table: the loader's own check decides
  if (header.e_shentsize != sizeof(Elf64_Shdr) ||
      !within(header.e_shoff, header.e_shnum, sizeof(Elf64_Shdr), size))
    damaged(path, "its section table lies outside the file (" + std::to_string(size) + " bytes)");
  const auto section = [&](uint32_t i) {
    return read_at<Elf64_Shdr>(bytes, header.e_shoff + uint64_t{i} * sizeof(Elf64_Shdr));
  };
  const auto section_name = [&](uint16_t i) {
    const uint64_t name_offset = section(i).sh_name;
    if (header.e_shstrndx < header.e_shnum) {
      const Elf64_Shdr names = section(header.e_shstrndx);
      if (within(names.sh_offset, 1, names.sh_size, size) && name_offset < names.sh_size) {
        const char* name = bytes.data() + names.sh_offset + name_offset;
        return std::string(name, strnlen(name, names.sh_size - name_offset));
      }
    }
    return std::to_string(i);
  };
  // Every section the loader maps must lie in a loaded segment: a damaged segment
  // table leaves data (the descriptor's strings, say) at addresses nothing maps.
  for (uint16_t i = 0; i < header.e_shnum; ++i) {
    const Elf64_Shdr s = section(i);
    if ((s.sh_flags & SHF_ALLOC) == 0 || s.sh_size == 0 || (s.sh_flags & SHF_TLS) != 0) continue;
    if (!mapped(s.sh_addr, s.sh_size))
      damaged(path, "section " + section_name(i) + " (address " + std::to_string(s.sh_addr) +
                        ", " + std::to_string(s.sh_size) +
                        " bytes) lies outside the segments the loader maps");
  }
  for (uint16_t i = 0; i < header.e_shnum; ++i) {
    const Elf64_Shdr symbols = section(i);
    if (symbols.sh_type != SHT_DYNSYM) continue;
    if (symbols.sh_entsize != sizeof(Elf64_Sym) || symbols.sh_link >= header.e_shnum ||
        !within(symbols.sh_offset, 1, symbols.sh_size, size))
      damaged(path, "its dynamic symbol table is broken");
    const Elf64_Shdr names = section(symbols.sh_link);
    if (names.sh_type != SHT_STRTAB || !within(names.sh_offset, 1, names.sh_size, size))
      damaged(path, "its dynamic symbol names are broken");
    for (uint64_t at = 0; at + sizeof(Elf64_Sym) <= symbols.sh_size; at += sizeof(Elf64_Sym)) {
      const auto symbol = read_at<Elf64_Sym>(bytes, symbols.sh_offset + at);
      if (symbol.st_shndx == SHN_UNDEF || symbol.st_name >= names.sh_size) continue;
      const char* name = bytes.data() + names.sh_offset + symbol.st_name;
      const size_t room = names.sh_size - symbol.st_name;
      if (strnlen(name, room) == entry_symbol.size() &&
          std::memcmp(name, entry_symbol.data(), entry_symbol.size()) == 0)
        return;
    }
    throw PluginError(path + ": not a nasx plugin: it does not export '" + entry_symbol +
                      "'. A plugin's source must end with NASX_PLUGIN(Class, name, version, "
                      "summary); anything else does not belong in a plugin folder");
  }
  damaged(path, "it has no dynamic symbol table");
}

void probe_plugin_in_child(const std::string& path, const std::string& entry_symbol) {
  const std::string key = probe_key(path);
  if (probed_before(key)) return;
  // The child's messages (the dynamic loader's own) come back through a pipe, to be
  // quoted in the error rather than printed.
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) return;
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return;  // no probe; the host's own load decides
  }
  if (pid == 0) {
    // Only async-signal-safe work would be strictly safe after fork; dlopen is what is
    // being tested, and the parent kills a child that hangs.
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::dup2(pipe_fds[1], STDERR_FILENO);
    void* library = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) ::_exit(kCleanFailure);
    using Entry = const nasx_plugin_descriptor* (*)();
    auto entry = reinterpret_cast<Entry>(::dlsym(library, entry_symbol.c_str()));
    if (entry == nullptr) ::_exit(kCleanFailure);
    // Everything the host reads next: the descriptor, its strings, the schema.
    const nasx_plugin_descriptor* descriptor = entry();
    if (descriptor == nullptr) ::_exit(kCleanFailure);
    if (descriptor->abi_version != NASX_ABI_VERSION) ::_exit(kCleanFailure);  // the host says
    size_t length = 0;
    for (const char* text : {descriptor->name, descriptor->version, descriptor->summary,
                             descriptor->sdk_version, descriptor->torch_version})
      if (text != nullptr) length += std::strlen(text);
    char message[256] = {0};
    if (descriptor->schema != nullptr) (void)descriptor->schema(message, sizeof message);
    ::_exit(length > 0 ? 0 : kCleanFailure);
  }
  ::close(pipe_fds[1]);
  std::string output;
  const auto drain = [&] {
    char buffer[1024];
    for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;)
      if (output.size() < 4096) output.append(buffer, static_cast<size_t>(n));
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int status = 0;
  bool finished = false;
  while (!finished) {
    drain();
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      finished = true;
    } else if (done < 0 && errno != EINTR) {
      break;
    } else if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;  // a hang says nothing; the host's own load decides
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  drain();
  ::close(pipe_fds[0]);
  if (!finished) return;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) remember_probed(key);
  if (WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == kCleanFailure))
    return;  // loads, or fails with a reason the host's own load reports
  const std::string said =
      output.empty() ? "" : ": " + output.substr(0, output.find('\n'));
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    const char* name = ::strsignal(signal);
    damaged(path, "opening it crashes the dynamic loader (a test process opening it died of "
                  "signal " +
                      std::to_string(signal) + (name ? std::string(", ") + name : "") + ")" +
                      said);
  }
  damaged(path, "opening it stops the dynamic loader (a test process opening it exited with " +
                    std::to_string(WEXITSTATUS(status)) + ")" + said);
}

}  // namespace nasx::core
