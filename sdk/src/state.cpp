#include "nasx/state.hpp"

#include <algorithm>
#include <sstream>

#include <ATen/ATen.h>
#include <torch/serialize/archive.h>

#include "nasx/error.hpp"

namespace nasx {

namespace {

/// Architectures as one int64 tensor: [count, then per architecture its number of cells,
/// then per cell its length and operations]. Exact, and independent of the space's text.
at::Tensor encode(const std::vector<Architecture>& archs) {
  std::vector<int64_t> flat{static_cast<int64_t>(archs.size())};
  for (const Architecture& arch : archs) {
    flat.push_back(static_cast<int64_t>(arch.cells.size()));
    for (const auto& cell : arch.cells) {
      flat.push_back(static_cast<int64_t>(cell.size()));
      flat.insert(flat.end(), cell.begin(), cell.end());
    }
  }
  return at::tensor(flat, at::kLong);
}

std::vector<Architecture> decode(const at::Tensor& tensor, const std::string& key) {
  const at::Tensor t = tensor.to(at::kCPU, at::kLong).contiguous();
  const int64_t* data = t.data_ptr<int64_t>();
  const int64_t size = t.numel();
  int64_t at = 0;
  const auto next = [&] {
    if (at >= size)
      throw IoError("checkpoint entry '" + key +
                    "' is not a list of architectures (truncated); the checkpoint is damaged");
    return data[at++];
  };
  std::vector<Architecture> archs(static_cast<size_t>(next()));
  for (Architecture& arch : archs) {
    arch.cells.resize(static_cast<size_t>(next()));
    for (auto& cell : arch.cells) {
      cell.resize(static_cast<size_t>(next()));
      for (int& op : cell) op = static_cast<int>(next());
    }
  }
  return archs;
}

}  // namespace

StateArchive::StateArchive(torch::serialize::OutputArchive& archive) : output_(&archive) {}
StateArchive::StateArchive(torch::serialize::InputArchive& archive) : input_(&archive) {}

namespace {

c10::IValue read_value(torch::serialize::InputArchive& archive, const std::string& key) {
  c10::IValue value;
  if (!archive.try_read(key, value))
    throw IoError("the checkpoint has no '" + key +
                  "': it was written by another version of this plugin; start the run again");
  return value;
}

template <class T, class ToT>
void bind_value(torch::serialize::OutputArchive* out, torch::serialize::InputArchive* in,
                const std::string& key, T& value, ToT to) {
  if (out != nullptr)
    out->write(key, c10::IValue(value));
  else
    value = to(read_value(*in, key));
}

}  // namespace

StateArchive& StateArchive::field(const std::string& key, bool& value) {
  bind_value(output_, input_, key, value, [](const c10::IValue& v) { return v.toBool(); });
  return *this;
}

StateArchive& StateArchive::field(const std::string& key, int64_t& value) {
  bind_value(output_, input_, key, value, [](const c10::IValue& v) { return v.toInt(); });
  return *this;
}

StateArchive& StateArchive::field(const std::string& key, double& value) {
  bind_value(output_, input_, key, value, [](const c10::IValue& v) { return v.toDouble(); });
  return *this;
}

StateArchive& StateArchive::field(const std::string& key, std::string& value) {
  bind_value(output_, input_, key, value, [](const c10::IValue& v) { return v.toStringRef(); });
  return *this;
}

StateArchive& StateArchive::field(const std::string& key, at::Tensor& value) {
  if (saving()) {
    output_->write(key, value, /*is_buffer=*/true);
    return *this;
  }
  if (!input_->try_read(key, value, /*is_buffer=*/true))
    throw IoError("the checkpoint has no tensor '" + key +
                  "': it was written by another version of this plugin; start the run again");
  return *this;
}

StateArchive& StateArchive::field(const std::string& key, std::vector<int64_t>& value) {
  at::Tensor tensor = saving() ? at::tensor(value, at::kLong) : at::Tensor();
  field(key, tensor);
  if (loading()) {
    const at::Tensor t = tensor.to(at::kCPU, at::kLong).contiguous();
    value.assign(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
  }
  return *this;
}

StateArchive& StateArchive::field(const std::string& key, std::vector<double>& value) {
  at::Tensor tensor = saving() ? at::tensor(value, at::kDouble) : at::Tensor();
  field(key, tensor);
  if (loading()) {
    const at::Tensor t = tensor.to(at::kCPU, at::kDouble).contiguous();
    value.assign(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
  }
  return *this;
}

StateArchive& StateArchive::field(const std::string& key, std::vector<std::string>& value) {
  group(key, [&value](StateArchive& list) {
    int64_t size = static_cast<int64_t>(value.size());
    list.field("size", size);
    if (list.loading()) value.assign(static_cast<size_t>(std::max<int64_t>(size, 0)), "");
    for (size_t i = 0; i < value.size(); ++i) list.field(std::to_string(i), value[i]);
  });
  return *this;
}

StateArchive& StateArchive::field(const std::string& key, std::mt19937_64& value) {
  std::string text;
  if (saving()) {
    std::ostringstream out;
    out << value;
    text = out.str();
  }
  field(key, text);
  if (loading()) {
    std::istringstream in(text);
    in >> value;
    if (in.fail())
      throw IoError("checkpoint entry '" + key +
                    "' is not a generator's state; the checkpoint is damaged");
  }
  return *this;
}

StateArchive& StateArchive::field(const std::string& key, std::vector<Architecture>& value) {
  at::Tensor tensor = saving() ? encode(value) : at::Tensor();
  field(key, tensor);
  if (loading()) value = decode(tensor, key);
  return *this;
}

StateArchive& StateArchive::field(const std::string& key, Architecture& value) {
  std::vector<Architecture> one{value};
  field(key, one);
  if (loading()) {
    if (one.size() != 1)
      throw IoError("checkpoint entry '" + key +
                    "' is not one architecture; the checkpoint is damaged");
    value = one[0];
  }
  return *this;
}

StateArchive& StateArchive::field(const std::string& key, std::optional<Architecture>& value) {
  std::vector<Architecture> none_or_one;
  if (value) none_or_one.push_back(*value);
  field(key, none_or_one);
  if (loading()) {
    if (none_or_one.size() > 1)
      throw IoError("checkpoint entry '" + key +
                    "' holds more than one architecture; the checkpoint is damaged");
    value = none_or_one.empty() ? std::nullopt : std::optional<Architecture>(none_or_one[0]);
  }
  return *this;
}

StateArchive& StateArchive::field(const std::string& key, std::map<Architecture, double>& value) {
  std::vector<Architecture> keys;
  std::vector<double> values;
  for (const auto& [arch, number] : value) {
    keys.push_back(arch);
    values.push_back(number);
  }
  group(key, [&](StateArchive& nested) { nested.field("keys", keys).field("values", values); });
  if (loading()) {
    if (keys.size() != values.size())
      throw IoError("checkpoint entry '" + key +
                    "' has different numbers of architectures and values; the checkpoint is "
                    "damaged");
    value.clear();
    for (size_t i = 0; i < keys.size(); ++i) value.emplace(keys[i], values[i]);
  }
  return *this;
}

StateArchive& StateArchive::group(const std::string& key,
                                  const std::function<void(StateArchive&)>& bind) {
  if (saving()) {
    torch::serialize::OutputArchive nested;
    StateArchive state(nested);
    bind(state);
    output_->write(key, nested);
    return *this;
  }
  torch::serialize::InputArchive nested;
  if (!input_->try_read(key, nested))
    throw IoError("the checkpoint has no '" + key +
                  "': it was written by another version of this plugin; start the run again");
  StateArchive state(nested);
  bind(state);
  return *this;
}

}  // namespace nasx
