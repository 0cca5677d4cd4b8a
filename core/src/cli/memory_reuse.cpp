#include "memory_reuse.hpp"

#include <cstdlib>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace nasx::cli {

void keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  const char* off = std::getenv("NASX_KEEP_FREED_MEMORY");
  if (off != nullptr && std::string(off) == "0") return;  // glibc's defaults, to compare
  // A user's malloc settings stand: any MALLOC_* variable (glibc reads an empty one as
  // 0), and GLIBC_TUNABLES when it tunes malloc (an empty one, or one that tunes
  // something else, leaves malloc to us).
  for (const char* tuned :
       {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_"})
    if (std::getenv(tuned) != nullptr) return;
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr && std::string(tunables).find("glibc.malloc.") != std::string::npos)
    return;
  // Both are needed: a fixed mmap threshold alone leaves trimming at its 128 KiB default
  // (pages still go back), a trim threshold alone turns off the adaptive mmap threshold
  // (every large tensor its own mmap: 17x slower measured).
  // Tensors below 1 GiB from the heap (older glibc caps this at 32 MiB: take that then).
  if (mallopt(M_MMAP_THRESHOLD, 1 << 30) == 0 && mallopt(M_MMAP_THRESHOLD, 32 << 20) == 0)
    return;  // refused both: leave trimming alone, or large tensors would all be mmapped
  mallopt(M_TRIM_THRESHOLD, 1 << 30);  // and the heap keeps up to 1 GiB free
#endif
}

}  // namespace nasx::cli
