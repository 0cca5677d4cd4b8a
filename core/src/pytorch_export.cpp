#include "nasx/core/pytorch_export.hpp"

#include <fstream>

#include <ATen/ATen.h>
#include <ATen/core/Dict.h>
#include <torch/serialize.h>
#include <torch/serialize/archive.h>

#include "nasx/core/config.hpp"
#include "nasx/core/data_loading.hpp"
#include "nasx/core/files.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/run_paths.hpp"
#include "nasx/core/spaces.hpp"
#include "nasx/core/training.hpp"
#include "nasx/error.hpp"
#include "nasx/pytorch_reference.hpp"
#include "nasx/space.hpp"

namespace nasx::core {

namespace fs = std::filesystem;

namespace {

/// torch.save-compatible bytes of {name: tensor} (contiguous copies: the file does not
/// depend on nasx's memory formats).
std::string pickled(const NamedTensors& tensors) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, tensor] : tensors) dict.insert(name, tensor.detach().cpu().contiguous());
  const std::vector<char> bytes = torch::pickle_save(dict);
  return std::string(bytes.begin(), bytes.end());
}

std::string readme(const PytorchExport& result, const std::string& genotype, double test_acc,
                   const std::string& python, const DataShape& shape) {
  std::string text =
      "# A network trained by nasx, for PyTorch\n\n"
      "Architecture: `" + genotype + "`\n\n"
      "Test accuracy in nasx: " + std::to_string(test_acc) + "\n\n"
      "`state_dict.pt` holds " + std::to_string(result.tensors) +
      " parameters and buffers for\n\n    " + result.module + "\n\n";
  if (!result.reference_names)
    text +=
        "The space has no reference PyTorch module, so the names are nasx's own (the C++\n"
        "modules' registration names); a PyTorch module registered the same way loads them.\n\n";
  text += "Inputs: " + std::to_string(shape.channels) + " x " + std::to_string(shape.height) +
          " x " + std::to_string(shape.width) + " images, " + std::to_string(shape.classes) +
          " classes, normalised per channel with the data set's mean and standard deviation as\n"
          "nasx trained on them (example.pt holds 8 such images and nasx's logits for them).\n\n"
          "Load it:\n\n"
          "```python\n"
          "import torch\n"
          "state = torch.load(\"state_dict.pt\")\n"
          "example = torch.load(\"example.pt\")\n" +
          python +
          "print((logits - example[\"logits\"]).abs().max())  # 0 up to float rounding\n"
          "```\n\n"
          "nasx's source tree has modules written after the references, for its own test of\n"
          "this file: tests/python/reference_modules.py.\n";
  return text;
}

}  // namespace

fs::path trained_network_folder(const fs::path& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error))
    throw IoError(dir.string() + " does not exist or is not a folder; give a run folder or a "
                  "training folder");
  fs::path trained;
  if (is_training_folder(dir)) {
    trained = dir;
  } else if (fs::exists(RunPaths(dir).config, error)) {
    trained = dir / "train";
    if (!is_training_folder(trained))
      throw IoError(dir.string() + " is a search run without a trained network (no train/ "
                    "folder): its config has no [train] table. Train its answer with "
                    "`nasx train " + dir.string() + "`, then export that training folder");
  } else {
    throw IoError(dir.string() + " is neither a run folder (config.toml) nor a training "
                  "folder (train.toml); give the folder `nasx run` or `nasx train` printed");
  }
  const TrainPaths paths(trained);
  for (const fs::path& file : {paths.model, paths.summary})
    if (!fs::exists(file, error))
      throw IoError("the training in " + trained.string() + " has not finished (no " +
                    file.filename().string() + "); `nasx resume " + trained.string() +
                    "` finishes it");
  return trained;
}

PytorchExport export_pytorch(const fs::path& dir, const PluginRegistry& registry, fs::path out) {
  const fs::path trained = trained_network_folder(dir);
  const TrainPaths paths(trained);
  const RunConfig config =
      load_run_config(paths.config.string(), {}, registry, ConfigUse::train);
  const auto space = make_space(registry, config.space);
  const std::string genotype = first_line_of(paths.genotype);
  const Architecture arch = space->parse(genotype);
  const DataSplits data = load_data(config.data, static_cast<uint64_t>(config.experiment.seed));
  std::shared_ptr<Network> net =
      space->build_network(arch, data.shape, config.train.channels, config.train.layers);
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(paths.model.string());
    net->load(archive);
  } catch (const c10::Error& e) {
    throw IoError("cannot read the trained network " + paths.model.string() + ": " +
                  e.what_without_backtrace() + "; it does not fit " + genotype +
                  " at the folder's channels and layers (was the folder edited?)");
  }
  net->eval();

  PytorchExport result;
  result.trained = trained;
  result.folder = out.empty() ? trained / "export-pytorch" : out;
  // The folder is replaced whole: never one that holds anything but an earlier export.
  std::error_code error;
  if (fs::exists(result.folder, error) && !fs::exists(result.folder / "export.json", error))
    throw IoError(result.folder.string() +
                  " exists and is not an earlier export (no export.json); an export replaces "
                  "its folder whole, so give --out a new folder (or an earlier export's)");
  NamedTensors tensors;
  std::string python =
      "model = ...  # a module registered with nasx's names, built for the architecture above\n"
      "model.load_state_dict(state, strict=True)\n"
      "model.eval()\n"
      "with torch.no_grad():\n"
      "    logits = model(example[\"images\"])\n";
  if (const auto* reference = dynamic_cast<const PytorchReference*>(net.get())) {
    result.module = reference->reference_module();
    result.reference_names = true;
    tensors = reference->reference_state_dict();
    python = reference->reference_python();
  } else {
    result.module = "a PyTorch module with nasx's names for " + space->name() + " network of " +
                    genotype;
    tensors = own_state_dict(*net);
  }
  result.tensors = static_cast<int64_t>(tensors.size());

  const int64_t batch = std::min<int64_t>(8, data.test.size());
  const at::Tensor images = data.test.images.slice(0, 0, batch).contiguous();
  at::Tensor logits;
  {
    at::NoGradGuard no_grad;
    logits = net->forward(images).contiguous();
  }
  result.max_abs_logit = logits.abs().max().item<double>();
  c10::Dict<std::string, at::Tensor> example;
  example.insert("images", images);
  example.insert("logits", logits);
  const std::vector<char> example_bytes = torch::pickle_save(example);

  const Json summary = parse_json_or_empty(read_text_file(paths.summary));
  const double test_acc = number_member(summary, "test_acc").value_or(0.0);
  StagedFolder folder(result.folder);
  write_file_atomically(folder.path() / "state_dict.pt", pickled(tensors));
  write_file_atomically(folder.path() / "example.pt",
                        std::string(example_bytes.begin(), example_bytes.end()));
  write_file_atomically(folder.path() / "genotype.txt", genotype + "\n");
  write_file_atomically(folder.path() / "README.md",
                        readme(result, genotype, test_acc, python, data.shape));
  write_file_atomically(folder.path() / "export.json",
                        JsonObject()
                                .add("format", "pytorch-state-dict")
                                .add("module", result.module)
                                .add("reference_names", result.reference_names)
                                .add("tensors", result.tensors)
                                .add("genotype", genotype)
                                .add("space", space->name())
                                .add("data", config.data.name)
                                .add("input", Json::array({data.shape.channels, data.shape.height,
                                                           data.shape.width}))
                                .add("classes", data.shape.classes)
                                .add("test_acc", test_acc)
                                .add("trained", fs::absolute(trained).string())
                                .str() +
                            "\n");
  folder.commit();
  return result;
}

}  // namespace nasx::core
