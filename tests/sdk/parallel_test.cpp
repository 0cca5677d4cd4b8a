// Code built against nasx::sdk runs ATen's at::parallel_for on several threads. That
// function is a header template whose threads are an OpenMP region compiled into the
// caller; nasx was built without OpenMP once, and every kernel of the SDK and of the
// plugins then ran on one core while LibTorch's used them all.

#include <mutex>
#include <set>

#include <gtest/gtest.h>

#include <ATen/Parallel.h>

namespace nasx {
namespace {

TEST(Parallel, AtParallelForInCodeBuiltAgainstTheSdkUsesTheThreads) {
  const int before = at::get_num_threads();
  at::set_num_threads(2);
  std::mutex mutex;
  std::set<int> threads;
  at::parallel_for(0, 2, 1, [&](int64_t, int64_t) {
    const std::lock_guard<std::mutex> lock(mutex);
    threads.insert(at::get_thread_num());
  });
  at::set_num_threads(before);
  EXPECT_EQ(threads, (std::set<int>{0, 1})) << "at::parallel_for ran serially: no OpenMP";
}

}  // namespace
}  // namespace nasx
