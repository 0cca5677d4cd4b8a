#include "nasx/core/cifar.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <memory>

#include <ATen/ATen.h>

#include "nasx/error.hpp"

namespace nasx::core {

namespace {

constexpr int64_t kPixels = 3 * 32 * 32;

bool is_file(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

std::string where_to_get(const CifarFormat& format) {
  const std::string archive =
      format.name == "cifar10" ? "cifar-10-binary.tar.gz" : "cifar-100-binary.tar.gz";
  return "set data.path to the folder unpacked from " + archive +
         " (the binary version from https://www.cs.toronto.edu/~kriz/cifar.html)";
}

}  // namespace

const CifarFormat& cifar_format(const std::string& name) {
  // The DARTS reference's normalisation constants (CIFAR_MEAN / CIFAR_STD of its utils).
  static const CifarFormat cifar10{"cifar10",
                                   "cifar-10-batches-bin",
                                   {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                    "data_batch_4.bin", "data_batch_5.bin"},
                                   "test_batch.bin",
                                   1,
                                   10,
                                   10000,
                                   10000,
                                   {0.49139968, 0.48215827, 0.44653124},
                                   {0.24703233, 0.24348505, 0.26158768}};
  static const CifarFormat cifar100{"cifar100",
                                    "cifar-100-binary",
                                    {"train.bin"},
                                    "test.bin",
                                    2,
                                    100,
                                    50000,
                                    10000,
                                    {0.5071, 0.4865, 0.4409},
                                    {0.2673, 0.2564, 0.2762}};
  if (name == "cifar10") return cifar10;
  if (name == "cifar100") return cifar100;
  throw ConfigError("unknown CIFAR data set '" + name + "' (cifar10 or cifar100)");
}

TensorDataset read_cifar_file(const std::string& path, const CifarFormat& format) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode))
    throw DataError(format.name + " file " + path + " is missing; " + where_to_get(format));
  const auto bytes = static_cast<int64_t>(info.st_size);
  const int64_t record = format.record_bytes();
  const int64_t expected =
      record * (path.size() >= format.test_file.size() &&
                        path.compare(path.size() - format.test_file.size(), std::string::npos,
                                     format.test_file) == 0
                    ? format.images_per_test_file
                    : format.images_per_train_file);
  if (bytes == 0 || bytes % record != 0)
    throw DataError(path + " has " + std::to_string(bytes) + " bytes, not a whole number of " +
                    std::to_string(record) + "-byte " + format.name +
                    " records (the distributed file has " + std::to_string(expected) +
                    " bytes): it is truncated or not a " + format.name +
                    " binary file; download and unpack it again");
  const int64_t n = bytes / record;
  at::Tensor raw = at::empty({n, record}, at::kByte);
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw DataError("cannot open " + path);
  if (std::fread(raw.data_ptr<uint8_t>(), 1, static_cast<size_t>(bytes), file.get()) !=
      static_cast<size_t>(bytes))
    throw DataError("cannot read " + path + " (" + std::to_string(bytes) + " bytes)");

  TensorDataset data;
  // CIFAR-100 keeps the coarse label first; the fine label is the class.
  data.labels = raw.select(1, format.label_bytes - 1).to(at::kLong);
  const int64_t max_label = data.labels.max().item<int64_t>();
  if (max_label >= format.classes)
    throw DataError(path + ": label " + std::to_string(max_label) + " is not one of the " +
                    std::to_string(format.classes) + " classes of " + format.name +
                    "; is it a file of the other CIFAR?");
  const at::Tensor mean = at::tensor(std::vector<double>(format.mean, format.mean + 3), at::kFloat)
                              .view({1, 3, 1, 1});
  const at::Tensor stddev =
      at::tensor(std::vector<double>(format.stddev, format.stddev + 3), at::kFloat)
          .view({1, 3, 1, 1});
  data.images = raw.narrow(1, format.label_bytes, kPixels)
                    .reshape({n, 3, 32, 32})
                    .to(at::kFloat)
                    .div_(255.0)
                    .sub_(mean)
                    .div_(stddev)
                    .contiguous();
  return data;
}

std::pair<TensorDataset, TensorDataset> load_cifar(const std::string& path,
                                                   const CifarFormat& format) {
  std::string folder = path;
  if (!is_file(folder + "/" + format.test_file) &&
      is_file(path + "/" + format.folder + "/" + format.test_file))
    folder = path + "/" + format.folder;
  std::vector<at::Tensor> images, labels;
  for (const std::string& name : format.train_files) {
    TensorDataset part = read_cifar_file(folder + "/" + name, format);
    images.push_back(part.images);
    labels.push_back(part.labels);
  }
  TensorDataset train{at::cat(images), at::cat(labels)};
  return {std::move(train), read_cifar_file(folder + "/" + format.test_file, format)};
}

}  // namespace nasx::core
