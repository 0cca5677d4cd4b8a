#include "nasx/core/config.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include <toml++/toml.h>

#include "nasx/core/registry.hpp"
#include "nasx/core/spaces.hpp"
#include "nasx/error.hpp"
#include "nasx/strategy.hpp"

namespace nasx::core {

namespace fs = std::filesystem;

namespace {

const auto& experiment_binding() {
  static const auto binding =
      OptionsBinding<ExperimentOptions>()
          .field("name", &ExperimentOptions::name, "experiment name; run folders go under it")
          .field("seed", &ExperimentOptions::seed, "seed of every random stream", {0.0, {}})
          .field("device", &ExperimentOptions::device, "\"cpu\", \"cuda\" or \"cuda:N\"")
          .field("output_dir", &ExperimentOptions::output_dir,
                 "folder that holds <name>/<trial> run folders")
          .field("threads", &ExperimentOptions::threads, "CPU threads for LibTorch (0: all cores)",
                 {0.0, 1024.0})
          .field("sync_batchnorm", &ExperimentOptions::sync_batchnorm,
                 "data-parallel runs (--nproc): BatchNorm statistics over all ranks' batches "
                 "(SyncBatchNorm) instead of each rank's own");
  return binding;
}

const auto& data_binding() {
  static const auto binding =
      OptionsBinding<DataOptions>()
          .field("name", &DataOptions::name, "data set",
                 {"fashion-mnist", "cifar10", "cifar100", "synthetic"})
          .field("path", &DataOptions::path,
                 "folder with the data set's files: Fashion-MNIST's IDX files, or the CIFAR "
                 "binary version (cifar-10-batches-bin/, cifar-100-binary/ or the folder "
                 "holding it)")
          .field("train_portion", &DataOptions::train_portion,
                 "share of the training set that trains weights; the rest trains the architecture",
                 {0.05, 0.95})
          .field("subset", &DataOptions::subset,
                 "use a seeded random subset of this many training images (0: all)", {0.0, 1e9})
          .field("test_subset", &DataOptions::test_subset,
                 "use a seeded random subset of this many test images (0: all)", {0.0, 1e9})
          .field("batch_size", &DataOptions::batch_size, "minibatch size", {1.0, 65536.0})
          .field("data_seed", &DataOptions::data_seed,
                 "seed of the subsets (-1: experiment.seed; a ground-truth table fixes it so "
                 "every seed trains on the same images)",
                 {-1.0, 9.2e18})
          .field("synthetic_train", &DataOptions::synthetic_train, "synthetic: training images",
                 {2.0, 1e7})
          .field("synthetic_test", &DataOptions::synthetic_test, "synthetic: test images",
                 {1.0, 1e7})
          .field("synthetic_channels", &DataOptions::synthetic_channels,
                 "synthetic: image channels", {1.0, 64.0})
          .field("synthetic_image_size", &DataOptions::synthetic_image_size,
                 "synthetic: image height and width", {4.0, 512.0})
          .field("synthetic_classes", &DataOptions::synthetic_classes, "synthetic: classes",
                 {2.0, 1000.0});
  return binding;
}

const auto& evaluator_binding() {
  static const auto binding =
      OptionsBinding<EvaluatorOptions>()
          .field("name", &EvaluatorOptions::name,
                 "how sampling strategies measure an architecture: \"shared\" weights, "
                 "\"train\" from scratch, \"table\" (a ground-truth table's accuracy), or "
                 "\"score:NAME\" with a training-free scorer")
          .field("batches", &EvaluatorOptions::batches,
                 "shared: validation minibatches per architecture (the same for all unless "
                 "fresh_batches)",
                 {1.0, {}})
          .field("fresh_batches", &EvaluatorOptions::fresh_batches,
                 "shared: each architecture drawn its own validation minibatches (seeded by "
                 "its name: the same architecture always sees the same ones)")
          .field("batchnorm", &EvaluatorOptions::batchnorm,
                 "shared: BatchNorm statistics of each minibatch (running ones restored) or the "
                 "running ones",
                 {"batch", "running"})
          .field("epochs", &EvaluatorOptions::epochs, "train: epochs per architecture", {1.0, {}})
          .field("train_images", &EvaluatorOptions::train_images,
                 "train: training images (seeded subset of the train split; 0: all)", {0.0, {}})
          .field("valid_images", &EvaluatorOptions::valid_images,
                 "train: validation images (seeded subset of the search split; 0: all)", {0.0, {}})
          .field("channels", &EvaluatorOptions::channels,
                 "train: network channels (0: [space] channels)", {0.0, 4096.0})
          .field("layers", &EvaluatorOptions::layers, "train: network cells (0: [space] layers)",
                 {0.0, 256.0})
          .field("lr", &EvaluatorOptions::lr,
                 "train: SGD learning rate (cosine to 0, momentum 0.9, Nesterov, wd 5e-4)",
                 {0.0, 10.0})
          .field("scorer", &EvaluatorOptions::scorer,
                 "the scorer plugin strategies' training-free scores use (naswot, area)")
          .field("score_batch", &EvaluatorOptions::score_batch,
                 "scorers: training images in the one minibatch every candidate is scored on",
                 {2.0, 65536.0})
          .field("table", &EvaluatorOptions::table,
                 "table: the ground-truth table (table.json of `nasx table collect`; relative "
                 "to the config file)")
          .field("budget_seconds", &EvaluatorOptions::budget_seconds,
                 "end the search after the step in which the evaluations' seconds reach this "
                 "(with table: the table's training seconds, a simulated clock; 0: no budget)",
                 {0.0, {}});
  return binding;
}

const auto& train_section_binding() {
  static const auto binding =
      OptionsBinding<TrainSection>()
          .field("protocol", &TrainSection::protocol,
                 "the space whose training protocol fills the keys left out (\"\": the "
                 "run's space)")
          .field("channels", &TrainSection::channels, "C of the network (DARTS 36, NB201 16)",
                 {1.0, 4096.0})
          .field("layers", &TrainSection::layers, "DARTS: cells (20); NB201: cells per stage (5)",
                 {1.0, 256.0})
          .field("test_every", &TrainSection::test_every,
                 "evaluate on the test split every this many epochs (and after the last)",
                 {1.0, {}})
          .field(
              "precision", &TrainSection::precision,
              "what the ReLU-conv-BN layers' convolutions compute in: \"float32\", or "
              "\"bfloat16\" mixed precision (weights, BatchNorm and the optimizer in float)",
              {{precision_name(ConvolutionPrecision::float32), ConvolutionPrecision::float32},
               {precision_name(ConvolutionPrecision::bfloat16), ConvolutionPrecision::bfloat16}});
  return binding;
}

const auto& train_options_binding() {
  static const auto binding =
      OptionsBinding<TrainOptions>()
          .field("epochs", &TrainOptions::epochs, "epochs (DARTS 600, NB201 200)", {1.0, {}})
          .field("batch_size", &TrainOptions::batch_size, "minibatch size (DARTS 96, NB201 256)",
                 {1.0, 65536.0})
          .field("lr", &TrainOptions::lr, "SGD learning rate, cosine-annealed per epoch",
                 {0.0, 10.0})
          .field("lr_min", &TrainOptions::lr_min, "learning rate of the last epoch's schedule end",
                 {0.0, 10.0})
          .field("momentum", &TrainOptions::momentum, "SGD momentum", {0.0, 1.0})
          .field("nesterov", &TrainOptions::nesterov, "Nesterov momentum (NB201)")
          .field("weight_decay", &TrainOptions::weight_decay, "L2 weight decay", {0.0, 1.0})
          .field("grad_clip", &TrainOptions::grad_clip, "gradient-norm clip (0: off)", {0.0, {}})
          .field("auxiliary_weight", &TrainOptions::auxiliary_weight,
                 "loss weight of the DARTS auxiliary head (0: not trained)", {0.0, 10.0})
          .field("drop_path_prob", &TrainOptions::drop_path_prob,
                 "DARTS drop-path probability, reached linearly over the epochs", {0.0, 0.95})
          .field("cutout", &TrainOptions::cutout, "cutout square side in pixels (0: off)",
                 {0.0, 1024.0})
          .field("crop_padding", &TrainOptions::crop_padding,
                 "random crops after zero padding by this many pixels (0: off)", {0.0, 64.0})
          .field("flip", &TrainOptions::flip, "random horizontal flips");
  return binding;
}

const std::vector<std::string> kSections = {"experiment", "data",   "space", "evaluator",
                                            "search",     "select", "train"};

/// Where a value or key came from, for messages.
class Locator {
 public:
  Locator(std::string file, std::map<std::string, std::string> overrides)
      : file_(std::move(file)), overrides_(std::move(overrides)) {}

  std::string at(const std::string& key_path, const toml::source_region& source) const {
    // The key itself, or a table it is in, may come from a --set.
    for (std::string path = key_path;;) {
      auto found = overrides_.find(path);
      if (found != overrides_.end()) return "--set " + found->second;
      const size_t dot = path.rfind('.');
      if (dot == std::string::npos) break;
      path.resize(dot);
    }
    if (!source.begin) return file_;
    std::ostringstream out;
    out << file_ << ':' << source.begin.line << ':' << source.begin.column;
    return out.str();
  }

  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::map<std::string, std::string> overrides_;
};

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw ConfigError(where + ": " + what);
}

const char* toml_type_name(toml::node_type type) {
  switch (type) {
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    default:
      return "a date or time";
  }
}

const char* expected_name(ParamType type) {
  switch (type) {
    case ParamType::Bool:
      return "a boolean (true or false)";
    case ParamType::Int:
      return "an integer";
    case ParamType::Float:
      return "a number";
    case ParamType::String:
      return "a string (in quotes)";
  }
  return "?";
}

/// Converts a TOML node to the spec's type, or explains why not.
ParamValue convert(const toml::node& node, const ParamSpec& spec, const std::string& key_path,
                   const Locator& where) {
  std::optional<ParamValue> value;
  switch (spec.type) {
    case ParamType::Bool:
      if (auto b = node.as_boolean()) value = b->get();
      break;
    case ParamType::Int:
      if (auto i = node.as_integer()) value = i->get();
      break;
    case ParamType::Float:
      if (auto d = node.as_floating_point()) value = d->get();
      if (auto i = node.as_integer()) value = static_cast<double>(i->get());
      break;
    case ParamType::String:
      if (auto s = node.as_string()) value = s->get();
      break;
  }
  if (!value)
    fail(where.at(key_path, node.source()), "'" + key_path + "' must be " +
                                                expected_name(spec.type) + ", not " +
                                                toml_type_name(node.type()));
  const std::string problem = param_value_problem(spec, *value);
  if (!problem.empty()) fail(where.at(key_path, node.source()), "'" + key_path + "': " + problem);
  return *value;
}

std::vector<std::string> names_of(const ParamSchema& schema) {
  std::vector<std::string> names;
  for (const auto& spec : schema.specs()) names.push_back(spec.name);
  return names;
}

/// Validates `table` (section `section`) against `schema`; `host_keys` are keys the
/// host itself reads from the same table (e.g. "strategy").
ParamValues validate_table(const toml::table& table, const std::string& section,
                           const ParamSchema& schema, const std::vector<std::string>& host_keys,
                           const std::string& owner, const Locator& where) {
  ParamValues values;
  for (const auto& spec : schema.specs()) values[spec.name] = spec.default_value;
  for (auto&& [key, node] : table) {
    const std::string name(key.str());
    const std::string key_path = section + "." + name;
    if (std::find(host_keys.begin(), host_keys.end(), name) != host_keys.end()) continue;
    const ParamSpec* spec = schema.find(name);
    if (spec == nullptr) {
      std::vector<std::string> candidates = names_of(schema);
      candidates.insert(candidates.end(), host_keys.begin(), host_keys.end());
      std::string message = "unknown key '" + key_path + "' for " + owner;
      const std::string guess = did_you_mean(name, candidates);
      if (!guess.empty()) message += "; did you mean '" + guess + "'?";
      message += " (run `nasx validate` or `nasx plugins info` for the accepted keys)";
      fail(where.at(key_path, key.source()), message);
    }
    values[name] = convert(node, *spec, key_path, where);
  }
  return values;
}

const toml::table& section_table(const toml::table& root, const std::string& section,
                                 const Locator& where) {
  static const toml::table empty;
  const toml::node* node = root.get(section);
  if (node == nullptr) return empty;
  if (!node->is_table())
    fail(where.at(section, node->source()),
         "'" + section + "' must be a table ([" + section + "])");
  return *node->as_table();
}

std::string required_string(const toml::table& table, const std::string& section,
                            const std::string& key, const Locator& where,
                            const std::string& fallback) {
  const std::string key_path = section + "." + key;
  const toml::node* node = table.get(key);
  if (node == nullptr) {
    if (!fallback.empty()) return fallback;
    fail(where.file(), "missing key '" + key_path + "'");
  }
  if (!node->is_string())
    fail(where.at(key_path, node->source()),
         "'" + key_path + "' must be a string, not " + toml_type_name(node->type()));
  return node->as_string()->get();
}

/// Finds the plugin named by a config key, pointing at the key on failure.
/// (Section and key as C strings: no temporary is bound to a parameter, so g++ 13 does
/// not take the returned reference for one into it.)
const PluginInfo& find_plugin(const PluginRegistry& registry, uint32_t kind,
                              const std::string& name, const toml::table& table,
                              const char* section, const char* key, const Locator& where) {
  try {
    return registry.find(kind, name);
  } catch (const PluginError& e) {
    const toml::node* node = table.get(key);
    const std::string key_path = std::string(section) + "." + key;
    fail(node ? where.at(key_path, node->source()) : where.file(),
         "'" + key_path + "': " + e.what());
  }
}

void apply_override(toml::table& root, const std::string& assignment,
                    std::map<std::string, std::string>& sources) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError("--set " + assignment + ": expected KEY=VALUE, e.g. --set search.epochs=2");
  std::string key = assignment.substr(0, eq);
  key.erase(std::remove_if(key.begin(), key.end(), ::isspace), key.end());
  const std::string value = assignment.substr(eq + 1);
  toml::table parsed;
  try {
    const std::string document = key + " = " + value;
    parsed = toml::parse(std::string_view(document), std::string_view("--set"));
  } catch (const toml::parse_error&) {
    // A bare word: take it as a string (--set space.name=darts).
    std::string quoted = "\"";
    for (char c : value)
      quoted += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
    try {
      const std::string document = key + " = " + quoted + "\"";
      parsed = toml::parse(std::string_view(document), std::string_view("--set"));
    } catch (const toml::parse_error& e) {
      throw ConfigError("--set " + assignment + ": " + std::string(e.description()));
    }
  }
  sources[key] = assignment;
  // Walk down the dotted key, creating tables, and replace the leaf.
  std::vector<std::string> parts;
  std::stringstream stream(key);
  for (std::string part; std::getline(stream, part, '.');) parts.push_back(part);
  toml::table* target = &root;
  const toml::table* source = &parsed;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    toml::node* child = target->get(parts[i]);
    if (child == nullptr) {
      target->insert(parts[i], toml::table{});
      child = target->get(parts[i]);
    }
    if (!child->is_table())
      throw ConfigError("--set " + assignment + ": '" + parts[i] + "' is not a table");
    target = child->as_table();
    source = source->get(parts[i])->as_table();
  }
  source->get(parts.back())->visit([&](auto&& leaf) {
    target->insert_or_assign(parts.back(), leaf);
  });
}

void write_values(std::ostringstream& out, const std::string& section, const ParamValues& values,
                  const std::vector<std::pair<std::string, std::string>>& first = {}) {
  out << '[' << section << "]\n";
  for (const auto& [key, value] : first) out << key << " = " << format_param_value(value) << '\n';
  for (const auto& [key, value] : values) out << key << " = " << format_param_value(value) << '\n';
  out << '\n';
}

}  // namespace

const ParamSchema& experiment_schema() { return experiment_binding().schema(); }
const ParamSchema& data_schema() { return data_binding().schema(); }
const ParamSchema& evaluator_schema() { return evaluator_binding().schema(); }

const ParamSchema& train_schema() {
  static const ParamSchema schema = [] {
    ParamSchema merged;
    for (const auto& spec : train_section_binding().schema().specs()) merged.add(spec);
    for (const auto& spec : train_options_binding().schema().specs()) merged.add(spec);
    return merged;
  }();
  return schema;
}

TrainSection train_protocol(const PluginRegistry& registry, const std::string& space) {
  const TrainingProtocol protocol = make_space(registry, {space, {}})->training_protocol();
  TrainSection section;
  section.protocol = space;
  section.channels = protocol.channels;
  section.layers = protocol.layers;
  section.options = protocol.options;
  return section;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      size_t diagonal = row[0];
      row[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        const size_t above = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
        diagonal = above;
      }
    }
    return row[b.size()];
  };
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& candidate : candidates) {
    const size_t d = distance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

namespace {

/// Every leaf of `table` as "section.key" -> its TOML text.
void flatten(const toml::table& table, const std::string& prefix,
             std::map<std::string, std::string>& out) {
  for (auto&& [key, node] : table) {
    const std::string name = prefix + std::string(key.str());
    if (const toml::table* nested = node.as_table()) {
      flatten(*nested, name + ".", out);
      continue;
    }
    std::ostringstream text;
    node.visit([&text](auto&& value) { text << value; });
    out[name] = text.str();
  }
}

std::map<std::string, std::string> flattened(const std::string& text) {
  std::map<std::string, std::string> out;
  try {
    flatten(toml::parse(text), "", out);
  } catch (const toml::parse_error&) {
    out["(unreadable config)"] = text.substr(0, 60);
  }
  return out;
}

/// Keys that later versions of nasx added, with the value that keeps what nasx did before
/// them: a checkpoint written before a key existed is not "another configuration" for
/// that value, so runs started on an older build resume on a newer one.
const std::map<std::string, std::string>& keys_added_later() {
  static const std::map<std::string, std::string> keys = {{"train.precision", "'float32'"}};
  return keys;
}

}  // namespace

std::vector<std::string> config_differences(const std::string& before, const std::string& after) {
  auto a = flattened(before);
  auto b = flattened(after);
  for (const auto& [key, old_behaviour] : keys_added_later()) {
    const auto in_a = a.find(key), in_b = b.find(key);
    if (in_a == a.end() && in_b != b.end() && in_b->second == old_behaviour)
      b.erase(in_b);
    else if (in_b == b.end() && in_a != a.end() && in_a->second == old_behaviour)
      a.erase(in_a);
  }
  std::vector<std::string> lines;
  for (const auto& [key, value] : a) {
    const auto other = b.find(key);
    if (other == b.end())
      lines.push_back(key + ": " + value + " -> absent");
    else if (other->second != value)
      lines.push_back(key + ": " + value + " -> " + other->second);
  }
  for (const auto& [key, value] : b)
    if (a.count(key) == 0) lines.push_back(key + ": absent -> " + value);
  return lines;
}

namespace {

/// The TOML document of a config file.
toml::table parse_config_file(const std::string& path) {
  if (path.empty()) return {};
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (std::filesystem::is_directory(status))
    throw ConfigError(path + ": is a folder, not a config file; give the .toml file itself");
  if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
    throw ConfigError(path + ": is not a regular file (a device or a pipe); give a .toml file");
  try {
    return toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const std::string what(e.description());
    if (what.find("No such file") != std::string::npos ||
        what.find("could not be opened") != std::string::npos)
      throw ConfigError(path + ": cannot open the config file; check the path");
    std::ostringstream out;
    out << path;
    if (e.source().begin) out << ':' << e.source().begin.line << ':' << e.source().begin.column;
    throw ConfigError(out.str() + ": TOML syntax error: " + what);
  }
}

void check_sections(const toml::table& root, const Locator& where) {
  for (auto&& [key, node] : root) {
    const std::string name(key.str());
    if (std::find(kSections.begin(), kSections.end(), name) != kSections.end()) continue;
    std::string message = "unknown section or key '" + name + "'";
    const std::string guess = did_you_mean(name, kSections);
    if (!guess.empty()) message += "; did you mean '" + guess + "'?";
    message +=
        " (sections: [experiment], [data], [space], [evaluator], [search], [select], [train])";
    fail(where.at(name, key.source()), message);
  }
}

EvaluatorOptions read_evaluator(const toml::table& root, const PluginRegistry& registry,
                                const Locator& where) {
  const toml::table& table = section_table(root, "evaluator", where);
  EvaluatorOptions evaluator = evaluator_binding().read(
      validate_table(table, "evaluator", evaluator_schema(), {}, "[evaluator]", where));
  const std::string& name = evaluator.name;
  const auto known = evaluator_names();
  const std::string scorer = scorer_of(name);
  if (!scorer.empty()) {
    find_plugin(registry, NASX_KIND_SCORER, scorer, table, "evaluator", "name", where);
  } else if (std::find(known.begin(), known.end(), name) == known.end()) {
    const toml::node* node = table.get("name");
    std::string message = "'evaluator.name': unknown evaluator '" + name + "'";
    const std::string guess = did_you_mean(name, known);
    if (!guess.empty()) message += "; did you mean '" + guess + "'?";
    fail(node ? where.at("evaluator.name", node->source()) : where.file(),
         message +
             " (known: shared, train, table, score:NAME with a scorer plugin, e.g. score:naswot)");
  }
  if (name == "table") {
    const toml::node* node = table.get("table");
    const std::string at = node ? where.at("evaluator.table", node->source()) : where.file();
    if (evaluator.table.empty())
      fail(at,
           "evaluator.name = \"table\" needs evaluator.table, the ground-truth table file "
           "(table.json of `nasx table collect`)");
    // Relative to the config file, so that a config and its table travel together.
    fs::path path = evaluator.table;
    std::error_code error;
    if (path.is_relative() && fs::is_regular_file(where.file(), error))
      path = fs::path(where.file()).parent_path() / path;
    evaluator.table = fs::absolute(path).lexically_normal().string();
    if (!fs::is_regular_file(evaluator.table, error))
      fail(at, "evaluator.table: " + evaluator.table +
                   " does not exist; build it with `nasx table build` and `nasx table collect`");
  }
  return evaluator;
}

/// [space]: the space plugin it names and its parameters.
SpaceSection read_space(const toml::table& root, const PluginRegistry& registry,
                        const Locator& where) {
  const toml::table& table = section_table(root, "space", where);
  SpaceSection space;
  space.name = required_string(table, "space", "name", where, "darts");
  const PluginInfo& info =
      find_plugin(registry, NASX_KIND_SPACE, space.name, table, "space", "name", where);
  space.params =
      validate_table(table, "space", info.schema, {"name"}, "space '" + info.name + "'", where);
  // Values each of the right type can still be what the space cannot honour together
  // (an unknown operation in a list, too few cells): the space's own setup says so now.
  try {
    make_space(registry, space);
  } catch (const ConfigError& e) {
    fail(where.at("space", table.source()), std::string("space '") + info.name + "': " + e.what());
  }
  return space;
}

/// [train]: the protocol's values (the run's space's by default) with the table's on top.
TrainSection read_train(const toml::table& root, const PluginRegistry& registry,
                        const std::string& space, const Locator& where) {
  const toml::table& table = section_table(root, "train", where);
  const ParamValues given = validate_table(table, "train", train_schema(), {}, "[train]", where);
  std::string protocol = std::get<std::string>(given.at("protocol"));
  if (protocol.empty()) protocol = space;
  find_plugin(registry, NASX_KIND_SPACE, protocol, table, "train", "protocol", where);
  const TrainSection defaults = train_protocol(registry, protocol);
  ParamValues section = train_section_binding().values(defaults);
  ParamValues options = train_options_binding().values(defaults.options);
  for (auto&& [key, node] : table) {
    const std::string name(key.str());
    (section.count(name) ? section : options)[name] = given.at(name);
  }
  section["protocol"] = protocol;
  TrainSection train = train_section_binding().read(section);
  train.options = train_options_binding().read(options);
  train.present = true;
  return train;
}

/// [search] and [select]: the plugins they name and their parameters.
void read_plugins(const toml::table& root, const PluginRegistry& registry, const Locator& where,
                  RunConfig& config) {
  const toml::table& search = section_table(root, "search", where);
  config.search.strategy = required_string(search, "search", "strategy", where, "");
  const PluginInfo& strategy = find_plugin(registry, NASX_KIND_STRATEGY, config.search.strategy,
                                           search, "search", "strategy", where);
  config.search.params = validate_table(search, "search", strategy.schema, {"strategy"},
                                        "strategy '" + strategy.name + "'", where);

  const toml::table& select = section_table(root, "select", where);
  config.select.selector = required_string(select, "select", "selector", where, "magnitude");
  const PluginInfo& selector = find_plugin(registry, NASX_KIND_SELECTOR, config.select.selector,
                                           select, "select", "selector", where);
  config.select.params = validate_table(select, "select", selector.schema, {"selector"},
                                        "selector '" + selector.name + "'", where);
  config.select.used = create_plugin<SearchStrategy>(registry, strategy)->trains_arch_parameters();
}

RunConfig resolve_config(toml::table root, const std::string& source,
                         const std::vector<std::string>& overrides, const PluginRegistry& registry,
                         ConfigUse use) {
  std::map<std::string, std::string> override_sources;
  for (const auto& assignment : overrides) apply_override(root, assignment, override_sources);
  const Locator where(source.empty() ? std::string("(defaults)") : source, override_sources);
  check_sections(root, where);

  RunConfig config;
  config.source = source;
  config.experiment = experiment_binding().read(
      validate_table(section_table(root, "experiment", where), "experiment", experiment_schema(),
                     {}, "[experiment]", where));
  config.data = data_binding().read(validate_table(section_table(root, "data", where), "data",
                                                   data_schema(), {}, "[data]", where));
  config.space = read_space(root, registry, where);
  config.evaluator = read_evaluator(root, registry, where);
  config.train = root.get("train") != nullptr ? read_train(root, registry, config.space.name, where)
                                              : train_protocol(registry, config.space.name);
  if (root.get("search") == nullptr) {
    if (use == ConfigUse::train) return config;
    fail(source, "missing [search] table; add one with strategy = \"darts\"");
  }
  read_plugins(root, registry, where, config);
  return config;
}

}  // namespace

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides,
                          const PluginRegistry& registry, ConfigUse use) {
  return resolve_config(parse_config_file(path), path, overrides, registry, use);
}

RunConfig load_run_config_text(const std::string& text, const std::string& source,
                               const std::vector<std::string>& overrides,
                               const PluginRegistry& registry, ConfigUse use) {
  toml::table root;
  try {
    root = toml::parse(std::string_view(text), std::string_view(source));
  } catch (const toml::parse_error& e) {
    throw ConfigError(source + ": TOML syntax error: " + std::string(e.description()));
  }
  return resolve_config(std::move(root), source, overrides, registry, use);
}

std::string RunConfig::to_toml() const {
  std::ostringstream out;
  out << "# Resolved by nasx from " << source << ": every value, defaults included.\n\n";
  write_values(out, "experiment", experiment_binding().values(experiment));
  ParamValues data_values = data_binding().values(data);
  if (data.name != "synthetic")  // the synthetic set's shape means nothing for real data
    for (auto it = data_values.begin(); it != data_values.end();)
      it = it->first.rfind("synthetic_", 0) == 0 ? data_values.erase(it) : std::next(it);
  write_values(out, "data", data_values);
  write_values(out, "space", space.params, {{"name", space.name}});
  if (!search.strategy.empty()) {
    write_values(out, "evaluator", evaluator_binding().values(evaluator));
    write_values(out, "search", search.params, {{"strategy", search.strategy}});
    if (select.used) write_values(out, "select", select.params, {{"selector", select.selector}});
  }
  if (train.present) {
    ParamValues values = train_section_binding().values(train);
    const ParamValues options = train_options_binding().values(train.options);
    values.insert(options.begin(), options.end());
    write_values(out, "train", values);
  }
  return out.str();
}

}  // namespace nasx::core
