#include "nasx/optim.hpp"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>
#include <torch/serialize/archive.h>

#include "nasx/error.hpp"

namespace nasx {

namespace {

void check(bool ok, const std::string& message) {
  if (!ok) throw ConfigError(message);
}

void write_tensors(torch::serialize::OutputArchive& archive, const std::string& prefix,
                   const std::vector<at::Tensor>& tensors) {
  for (size_t i = 0; i < tensors.size(); ++i)
    archive.write(prefix + "." + std::to_string(i), tensors[i], /*is_buffer=*/true);
}

void read_tensors(torch::serialize::InputArchive& archive, const std::string& prefix,
                  std::vector<at::Tensor>& tensors) {
  for (size_t i = 0; i < tensors.size(); ++i) {
    at::Tensor value;
    archive.read(prefix + "." + std::to_string(i), value, /*is_buffer=*/true);
    if (!value.sizes().equals(tensors[i].sizes()))
      throw IoError("checkpoint: optimizer state '" + prefix + "." + std::to_string(i) +
                    "' has another shape than the model's parameter; the checkpoint belongs "
                    "to a different configuration");
    at::NoGradGuard no_grad;
    tensors[i].copy_(value);
  }
}

int64_t read_int(torch::serialize::InputArchive& archive, const std::string& key) {
  c10::IValue value;
  archive.read(key, value);
  return value.toInt();
}

}  // namespace

double cosine_lr(double lr_max, double lr_min, int64_t epoch, int64_t epochs) {
  if (epochs <= 0) return lr_max;
  return lr_min +
         (lr_max - lr_min) *
             (1.0 + std::cos(M_PI * static_cast<double>(epoch) / static_cast<double>(epochs))) /
             2.0;
}

double cosine_restarts_lr(double lr_max, double lr_min, int64_t epoch, int64_t period,
                          int64_t multiplier) {
  if (period <= 0) return lr_max;
  int64_t start = 0, length = period;  // the cycle that contains `epoch`
  while (epoch >= start + length) {
    start += length;
    length *= std::max<int64_t>(multiplier, 1);
  }
  return cosine_lr(lr_max, lr_min, epoch - start, length);
}

void clear_gradients(const std::vector<at::Tensor>& tensors) {
  for (const auto& t : tensors)
    if (t.grad().defined()) t.mutable_grad() = at::Tensor();
}

void zero_gradients(const std::vector<at::Tensor>& tensors) {
  for (const auto& t : tensors) {
    auto& grad = t.mutable_grad();
    if (grad.defined()) {
      grad.detach_();
      grad.zero_();
    }
  }
}

WeightOptimizer::WeightOptimizer(std::vector<at::Tensor> params, SgdOptions options)
    : params_(std::move(params)), options_(options), lr_(options.lr) {
  check(options.lr > 0, "weight optimizer: lr must be positive, got " + std::to_string(options.lr));
  check(options.lr_min >= 0 && options.lr_min <= options.lr,
        "weight optimizer: lr_min must lie in [0, lr], got " + std::to_string(options.lr_min));
  check(options.momentum >= 0 && options.momentum < 1,
        "weight optimizer: invalid momentum " + std::to_string(options.momentum));
  check(options.weight_decay >= 0,
        "weight optimizer: invalid weight_decay " + std::to_string(options.weight_decay));
  check(options.grad_clip >= 0,
        "weight optimizer: invalid grad_clip " + std::to_string(options.grad_clip));
  for (const auto& p : params_) momentum_.push_back(at::zeros_like(p));
}

void WeightOptimizer::set_epoch(int64_t epoch) {
  lr_ = options_.restart_period > 0
            ? cosine_restarts_lr(options_.lr, options_.lr_min, epoch, options_.restart_period,
                                 options_.restart_multiplier)
            : cosine_lr(options_.lr, options_.lr_min, epoch, options_.epochs);
}

void WeightOptimizer::zero_grad() { zero_gradients(params_); }

at::Tensor WeightOptimizer::clip_gradients() {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> norms;
  for (const auto& p : params_)
    if (p.grad().defined()) norms.push_back(p.grad().norm().to(at::kFloat));
  if (norms.empty())
    return at::zeros({}, params_.empty() ? at::TensorOptions() : params_[0].options());
  at::Tensor total = at::stack(norms).norm();
  if (options_.grad_clip > 0) {
    // min(1, clip / (norm + 1e-6)) as a tensor: no host synchronisation.
    at::Tensor scale = at::clamp_max(options_.grad_clip / (total + 1e-6), 1.0);
    for (const auto& p : params_)
      if (p.grad().defined()) p.mutable_grad().mul_(scale.to(p.scalar_type()));
  }
  return total;
}

void WeightOptimizer::step() {
  clip_gradients();
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i];
    if (!p.grad().defined()) continue;
    at::Tensor d = p.grad();
    if (options_.weight_decay != 0) d = d.add(p, options_.weight_decay);
    momentum_[i].mul_(options_.momentum).add_(d);
    if (options_.nesterov)
      p.add_(d.add(momentum_[i], options_.momentum), -lr_);
    else
      p.add_(momentum_[i], -lr_);
  }
}

void WeightOptimizer::save(torch::serialize::OutputArchive& archive) const {
  write_tensors(archive, "momentum", momentum_);
  archive.write("lr", c10::IValue(lr_));
}

void WeightOptimizer::load(torch::serialize::InputArchive& archive) {
  read_tensors(archive, "momentum", momentum_);
  c10::IValue lr;
  archive.read("lr", lr);
  lr_ = lr.toDouble();
}

ArchOptimizer::ArchOptimizer(std::vector<at::Tensor> params, AdamOptions options)
    : params_(std::move(params)), options_(options) {
  check(options.lr >= 0, "architecture optimizer: lr must be at least 0 (0: frozen), got " +
                             std::to_string(options.lr));
  check(options.beta1 >= 0 && options.beta1 < 1,
        "architecture optimizer: invalid beta1 " + std::to_string(options.beta1));
  check(options.beta2 >= 0 && options.beta2 < 1,
        "architecture optimizer: invalid beta2 " + std::to_string(options.beta2));
  check(options.weight_decay >= 0,
        "architecture optimizer: invalid weight_decay " + std::to_string(options.weight_decay));
  for (const auto& p : params_) {
    exp_avg_.push_back(at::zeros_like(p));
    exp_avg_sq_.push_back(at::zeros_like(p));
  }
}

void ArchOptimizer::zero_grad() { zero_gradients(params_); }

void ArchOptimizer::step() {
  at::NoGradGuard no_grad;
  ++step_;
  const double bias_correction1 = 1.0 - std::pow(options_.beta1, static_cast<double>(step_));
  const double bias_correction2 = 1.0 - std::pow(options_.beta2, static_cast<double>(step_));
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i];
    if (!p.grad().defined()) continue;
    at::Tensor g = p.grad();
    if (options_.weight_decay != 0) g = g.add(p, options_.weight_decay);
    exp_avg_[i].mul_(options_.beta1).add_(g, 1.0 - options_.beta1);
    exp_avg_sq_[i].mul_(options_.beta2).addcmul_(g, g, 1.0 - options_.beta2);
    at::Tensor denom = (exp_avg_sq_[i].sqrt() / std::sqrt(bias_correction2)).add_(options_.eps);
    p.addcdiv_(exp_avg_[i], denom, -options_.lr / bias_correction1);
  }
}

void ArchOptimizer::save(torch::serialize::OutputArchive& archive) const {
  write_tensors(archive, "exp_avg", exp_avg_);
  write_tensors(archive, "exp_avg_sq", exp_avg_sq_);
  archive.write("step", c10::IValue(step_));
}

void ArchOptimizer::load(torch::serialize::InputArchive& archive) {
  read_tensors(archive, "exp_avg", exp_avg_);
  read_tensors(archive, "exp_avg_sq", exp_avg_sq_);
  step_ = read_int(archive, "step");
}

}  // namespace nasx
