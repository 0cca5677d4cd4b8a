#pragma once
// The smallest search config the end-to-end tests run: synthetic 8x8 images, a
// 3-cell supernet of 4 channels, one thread. A darts step takes a fraction of a second.

#include <string>

namespace nasx::testing {

inline std::string tiny_search_config(const std::string& extra = "") {
  return R"([experiment]
name = "e2e"
seed = 5
threads = 1

[data]
name = "synthetic"
synthetic_train = 512
synthetic_test = 128
synthetic_image_size = 8
synthetic_classes = 4
batch_size = 32

[space]
channels = 4
layers = 3

[search]
strategy = "darts"
)" + extra;
}

}  // namespace nasx::testing
