#pragma once
// Tests that pin results on a given number of threads set it for a scope, so that a
// failing assertion cannot leave the rest of the test executable on another count.

#include <ATen/Parallel.h>

namespace nasx::test {

/// at::set_num_threads for a scope.
class ThreadCount {
 public:
  explicit ThreadCount(int threads) : before_(at::get_num_threads()) {
    at::set_num_threads(threads);
  }
  ~ThreadCount() { at::set_num_threads(before_); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;

 private:
  int before_;
};

}  // namespace nasx::test
