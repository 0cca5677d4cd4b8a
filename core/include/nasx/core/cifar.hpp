#pragma once
/// CIFAR-10 and CIFAR-100 in their binary distribution format (cifar-10-binary.tar.gz,
/// cifar-100-binary.tar.gz): fixed-size records of a label byte (CIFAR-100: a coarse and
/// a fine label byte) and 3072 pixel bytes, the red, green and blue 32x32 planes in turn.

#include <cstdint>
#include <string>
#include <vector>

#include "nasx/data.hpp"

namespace nasx::core {

/// What tells the two data sets apart.
struct CifarFormat {
  std::string name;                     ///< "cifar10" or "cifar100"
  std::string folder;                   ///< the distribution's folder inside its archive
  std::vector<std::string> train_files; ///< in the order they are concatenated
  std::string test_file;
  int64_t label_bytes;                  ///< 1, or 2 for CIFAR-100 (the fine label is the second)
  int64_t classes;
  int64_t images_per_train_file;        ///< as distributed (a smaller file is accepted)
  int64_t images_per_test_file;
  double mean[3], stddev[3];            ///< per-channel normalisation (of the training set)

  int64_t record_bytes() const { return label_bytes + 3 * 32 * 32; }
};

const CifarFormat& cifar_format(const std::string& name);

/// Reads one binary file into images [N, 3, 32, 32] (float, normalised) and labels [N].
/// Throws DataError naming the file when it is missing, empty or not a whole number of
/// records (a truncated download), or holds a label out of range.
TensorDataset read_cifar_file(const std::string& path, const CifarFormat& format);

/// The training and test sets from `path`: the distribution's folder itself or the folder
/// it was unpacked into (`cifar-10-batches-bin/`, `cifar-100-binary/`).
std::pair<TensorDataset, TensorDataset> load_cifar(const std::string& path,
                                                   const CifarFormat& format);

}  // namespace nasx::core
