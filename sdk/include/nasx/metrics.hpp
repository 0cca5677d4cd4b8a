#pragma once

#include <map>
#include <string>

#include <ATen/core/Tensor.h>

#include "nasx/export.hpp"

namespace nasx {

/// Running means of step metrics kept on the device: adding never synchronises,
/// reading does (do it once per log interval).
///
///     meter.add("train_loss", loss.detach(), batch_size);
///     meter.add_correct("train_acc", logits, labels);
///     meter.means();  // {"train_acc": 0.71, "train_loss": 0.83}
class NASX_API MetricsMeter {
 public:
  /// Adds `value` (a scalar tensor, a mean over `count` samples).
  void add(const std::string& name, const at::Tensor& value, int64_t count);
  /// Adds the top-1 accuracy of `logits` [batch, classes] against `labels`.
  void add_accuracy(const std::string& name, const at::Tensor& logits, const at::Tensor& labels);
  /// Sample-weighted means (synchronises).
  std::map<std::string, double> means() const;
  bool empty() const { return sums_.empty(); }
  void reset();

 private:
  std::map<std::string, at::Tensor> sums_;
  std::map<std::string, int64_t> counts_;
};

}  // namespace nasx
