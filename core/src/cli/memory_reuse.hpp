#pragma once

namespace nasx::cli {

/// Makes glibc's malloc keep freed memory for reuse instead of returning it to the
/// kernel, unless the user tuned malloc through its MALLOC_* environment variables
/// (or glibc.malloc.* in GLIBC_TUNABLES). NASX_KEEP_FREED_MEMORY=0 keeps glibc's defaults.
///
/// Why: a training step allocates and frees hundreds of MB of activations. With glibc's
/// defaults this process handed them back (heap trimming, mmap'ed chunks) and took every
/// page again on the next step: ~70,000 page faults a step of the DARTS evaluation
/// network (C=16, 8 cells, batch 96), 1.0-1.4 s a step against 0.50-0.55 s with the
/// memory kept. Peak memory is unchanged (the same pages, kept instead of refaulted).
void keep_freed_memory_for_reuse();

}  // namespace nasx::cli
