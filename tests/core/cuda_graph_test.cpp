// CapturedStep: a step captured in a CUDA graph and replayed (on a CUDA build with a
// GPU), and what every other build says when asked for one.

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nasx/core/cuda_graph.hpp"
#include "nasx/error.hpp"

namespace nasx {
namespace {

using ::testing::HasSubstr;

/// The ConfigError `make` throws ("" when it throws none).
template <class Make>
std::string config_error_of(Make make) {
  try {
    make();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(CudaGraph, ABuildWithoutThemSaysSoAndRunsNothing) {
  if (core::cuda_graphs_available()) GTEST_SKIP() << "this build captures CUDA graphs";
  int calls = 0;
  const std::string error =
      config_error_of([&] { core::CapturedStep step([&] { ++calls; }, c10::Device(c10::kCUDA)); });
  EXPECT_THAT(error, HasSubstr("this nasx has no CUDA graphs"));
  EXPECT_THAT(error, HasSubstr("build it against a CUDA LibTorch"));
  EXPECT_EQ(calls, 0);
}

TEST(CudaGraph, OnlyAGpusWorkIsCaptured) {
  if (!core::cuda_graphs_available()) GTEST_SKIP() << "a build without CUDA graphs";
  int calls = 0;
  const std::string error =
      config_error_of([&] { core::CapturedStep step([&] { ++calls; }, c10::Device(c10::kCPU)); });
  EXPECT_THAT(error, HasSubstr("captures work on a GPU, not on cpu"));
  EXPECT_EQ(calls, 0);
}

// The warm-up runs the step; the capture records it without running it; each replay
// runs it again on the same tensor. x -> 2x + 1 from 1: 3 after one warm-up, then 7, 15.
TEST(CudaGraph, AReplayRunsTheCapturedStepOnItsTensorsAgain) {
  if (!core::cuda_graphs_available() || !at::hasCUDA()) GTEST_SKIP() << "no GPU to capture on";
  const at::Tensor x = at::ones({1000}, at::TensorOptions().device(at::kCUDA));
  int calls = 0;
  core::CapturedStep step(
      [&] {
        ++calls;
        x.mul_(2).add_(1);
      },
      x.device(), /*warmup=*/1);
  EXPECT_EQ(calls, 2);  // the warm-up and the capture
  EXPECT_TRUE(at::equal(x.cpu(), at::full({1000}, 3.0)));
  step.replay();
  step.replay();
  EXPECT_TRUE(at::equal(x.cpu(), at::full({1000}, 15.0)));
  EXPECT_EQ(calls, 2);  // a replay runs no host code
}

}  // namespace
}  // namespace nasx
