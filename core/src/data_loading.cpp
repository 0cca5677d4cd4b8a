#include "nasx/core/data_loading.hpp"

#include <sys/stat.h>
#include <zlib.h>

#include <cmath>
#include <random>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "nasx/core/cifar.hpp"
#include "nasx/error.hpp"

namespace nasx::core {

namespace {

// Fashion-MNIST training-set statistics, as commonly used for normalisation.
constexpr double kFashionMean = 0.2860;
constexpr double kFashionStd = 0.3530;

bool file_exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

at::Tensor index_tensor(const std::vector<int64_t>& indices) {
  return at::tensor(indices, at::kLong);
}

TensorDataset take(const TensorDataset& data, const at::Tensor& indices) {
  return {data.images.index_select(0, indices), data.labels.index_select(0, indices)};
}

TensorDataset random_subset(const TensorDataset& data, int64_t size, uint64_t seed,
                            const char* key, const char* images) {
  if (size > data.size())
    throw ConfigError(std::string("data.") + key + " = " + std::to_string(size) +
                      " is more than the " + std::to_string(data.size()) + " " + images +
                      " there are; give at most " + std::to_string(data.size()) + " (0: all)");
  if (size <= 0 || size == data.size()) return data;
  auto order = seeded_permutation(data.size(), seed);
  order.resize(static_cast<size_t>(size));
  return take(data, index_tensor(order));
}

TensorDataset load_idx_pair(const std::string& dir, const std::string& prefix) {
  auto find = [&](const std::string& stem) {
    for (const std::string& candidate : {dir + "/" + stem + ".gz", dir + "/" + stem})
      if (file_exists(candidate)) return candidate;
    throw DataError("Fashion-MNIST file " + dir + "/" + stem +
                    ".gz is missing. Install Debian's dataset-fashion-mnist "
                    "(apt-get install dataset-fashion-mnist), or set data.path to the folder "
                    "holding the IDX files");
  };
  const std::string images_path = find(prefix + "-images-idx3-ubyte");
  const std::string labels_path = find(prefix + "-labels-idx1-ubyte");
  at::Tensor images = read_idx_file(images_path);
  at::Tensor labels = read_idx_file(labels_path);
  if (images.dim() != 3 || labels.dim() != 1 || images.size(0) != labels.size(0))
    throw DataError("Fashion-MNIST files " + images_path + " and " + labels_path +
                    " do not match: expected [N, 28, 28] images and [N] labels");
  TensorDataset data;
  data.images = (images.to(at::kFloat).div_(255.0).sub_(kFashionMean).div_(kFashionStd))
                    .unsqueeze(1)
                    .contiguous();
  data.labels = labels.to(at::kLong);
  return data;
}

DataSplits split_train(const DataOptions& options, TensorDataset train, TensorDataset test,
                       uint64_t seed) {
  DataSplits splits;
  train = random_subset(train, options.subset, derive_seed(seed, 1), "subset", "training images");
  test = random_subset(test, options.test_subset, derive_seed(seed, 2), "test_subset",
                       "test images");
  // Like the reference: the first train_portion of the (subset of the) training set
  // trains the weights, the rest trains the architecture.
  const auto n = train.size();
  const auto split =
      static_cast<int64_t>(std::floor(options.train_portion * static_cast<double>(n)));
  if (split < options.batch_size || n - split < options.batch_size)
    throw DataError("data split too small: " + std::to_string(n) +
                    " training images with "
                    "train_portion " +
                    std::to_string(options.train_portion) + " leave " + std::to_string(split) +
                    " / " + std::to_string(n - split) + " images, fewer than one batch of " +
                    std::to_string(options.batch_size) +
                    "; raise data.subset or lower data.batch_size");
  splits.train = {train.images.narrow(0, 0, split), train.labels.narrow(0, 0, split)};
  splits.search = {train.images.narrow(0, split, n - split),
                   train.labels.narrow(0, split, n - split)};
  splits.test = std::move(test);
  return splits;
}

TensorDataset synthetic_set(const at::Tensor& prototypes, int64_t n, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto classes = prototypes.size(0);
  at::Tensor labels = at::randint(classes, {n}, generator, at::kLong);
  at::Tensor noise = at::randn({n, prototypes.size(1), prototypes.size(2), prototypes.size(3)},
                               generator, at::TensorOptions(at::kFloat));
  return {prototypes.index_select(0, labels) + 0.5 * noise, labels};
}

}  // namespace

at::Tensor read_idx_file(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");  // reads plain files too
  if (file == nullptr) throw DataError("cannot open " + path);
  auto fail = [&](const std::string& why) -> DataError {
    gzclose(file);
    return DataError(path + ": " + why +
                     " (not an IDX file, or truncated; reinstall the data set)");
  };
  unsigned char magic[4];
  if (gzread(file, magic, 4) != 4) throw fail("missing header");
  if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] < 1 || magic[3] > 4)
    throw fail("bad magic number (expected unsigned-byte IDX data)");
  std::vector<int64_t> shape;
  int64_t count = 1;
  for (int d = 0; d < magic[3]; ++d) {
    unsigned char bytes[4];
    if (gzread(file, bytes, 4) != 4) throw fail("missing dimension");
    const int64_t size = (int64_t{bytes[0]} << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3];
    shape.push_back(size);
    count *= size;
  }
  at::Tensor data = at::empty(shape, at::kByte);
  auto* out = data.data_ptr<uint8_t>();
  int64_t done = 0;
  while (done < count) {
    const auto chunk = static_cast<unsigned>(std::min<int64_t>(count - done, 1 << 24));
    const int got = gzread(file, out + done, chunk);
    if (got <= 0)
      throw fail("data ends after " + std::to_string(done) + " of " + std::to_string(count) +
                 " bytes");
    done += got;
  }
  gzclose(file);
  return data;
}

DataSplits load_data(const DataOptions& options, uint64_t seed) {
  // The data may be drawn apart from the experiment's seed: a ground-truth table
  // trains every seed on the same images.
  if (options.data_seed >= 0) seed = static_cast<uint64_t>(options.data_seed);
  if (options.name == "fashion-mnist") {
    TensorDataset train = load_idx_pair(options.path, "train");
    TensorDataset test = load_idx_pair(options.path, "t10k");
    DataSplits splits = split_train(options, std::move(train), std::move(test), seed);
    splits.name = options.name;
    splits.shape = {1, 28, 28, 10};
    return splits;
  }
  if (options.name == "cifar10" || options.name == "cifar100") {
    const CifarFormat& format = cifar_format(options.name);
    auto [train, test] = load_cifar(options.path, format);
    DataSplits splits = split_train(options, std::move(train), std::move(test), seed);
    splits.name = options.name;
    splits.shape = {3, 32, 32, format.classes};
    return splits;
  }
  if (options.name == "synthetic") {
    const int64_t c = options.synthetic_channels, s = options.synthetic_image_size;
    auto generator = at::make_generator<at::CPUGeneratorImpl>(derive_seed(seed, 3));
    const at::Tensor prototypes =
        at::randn({options.synthetic_classes, c, s, s}, generator, at::TensorOptions(at::kFloat));
    DataSplits splits = split_train(
        options, synthetic_set(prototypes, options.synthetic_train, derive_seed(seed, 4)),
        synthetic_set(prototypes, options.synthetic_test, derive_seed(seed, 5)), seed);
    splits.name = options.name;
    splits.shape = {c, s, s, options.synthetic_classes};
    return splits;
  }
  throw DataError("unknown data set '" + options.name + "' (known: fashion-mnist, cifar10, cifar100, synthetic)");
}

DataSplits to_device(const DataSplits& splits, c10::Device device) {
  DataSplits moved = splits;
  for (TensorDataset* data : {&moved.train, &moved.search, &moved.test}) {
    data->images = data->images.to(device);
    data->labels = data->labels.to(device);
  }
  return moved;
}

}  // namespace nasx::core
