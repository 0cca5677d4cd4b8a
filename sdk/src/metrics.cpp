#include "nasx/metrics.hpp"

#include <ATen/ATen.h>

namespace nasx {

void MetricsMeter::add(const std::string& name, const at::Tensor& value, int64_t count) {
  at::NoGradGuard no_grad;
  at::Tensor weighted = value.detach().to(at::kDouble) * static_cast<double>(count);
  auto found = sums_.find(name);
  if (found == sums_.end())
    sums_.emplace(name, weighted);
  else
    found->second.add_(weighted);
  counts_[name] += count;
}

void MetricsMeter::add_accuracy(const std::string& name, const at::Tensor& logits,
                                const at::Tensor& labels) {
  at::NoGradGuard no_grad;
  at::Tensor correct = logits.detach().argmax(1).eq(labels).to(at::kDouble).mean();
  add(name, correct, labels.size(0));
}

std::map<std::string, double> MetricsMeter::means() const {
  std::map<std::string, double> out;
  if (sums_.empty()) return out;
  // One transfer for all metrics.
  std::vector<at::Tensor> sums;
  for (const auto& item : sums_) sums.push_back(item.second.reshape({1}));
  const at::Tensor host = at::cat(sums).to(at::kCPU);
  const double* values = host.data_ptr<double>();
  size_t i = 0;
  for (const auto& item : sums_) {
    out[item.first] = values[i++] / static_cast<double>(counts_.at(item.first));
  }
  return out;
}

void MetricsMeter::reset() {
  sums_.clear();
  counts_.clear();
}

}  // namespace nasx
