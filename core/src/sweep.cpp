#include "nasx/core/sweep.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "nasx/core/config.hpp"
#include "nasx/core/files.hpp"
#include "nasx/core/ground_truth.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/run_paths.hpp"
#include "nasx/core/runner.hpp"
#include "nasx/core/spaces.hpp"
#include "nasx/core/training.hpp"
#include "nasx/enumerate.hpp"
#include "nasx/error.hpp"
#include "nasx/space.hpp"

namespace nasx::core {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kSweepKeys = {"name",  "base",          "seeds",       "output_dir",
                                             "nproc", "architectures", "sample_seed", "truth"};
const std::vector<std::string> kSlurmKeys = {"partition", "time", "cpus", "gpus", "mem", "extra"};
const std::vector<std::string> kTables = {"sweep", "grid", "zip", "labels", "base", "slurm"};

std::string at(const fs::path& file, const toml::source_region& source) {
  std::ostringstream out;
  out << file.string();
  if (source.begin) out << ':' << source.begin.line << ':' << source.begin.column;
  return out.str();
}

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw ConfigError(where + ": " + what);
}

void check_keys(const toml::table& table, const std::string& section,
                const std::vector<std::string>& known, const fs::path& file) {
  for (auto&& [key, node] : table) {
    const std::string name(key.str());
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    std::string message = "unknown key '" + section + "." + name + "'";
    const std::string guess = did_you_mean(name, known);
    if (!guess.empty()) message += "; did you mean '" + guess + "'?";
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    fail(at(file, key.source()), message + " ([" + section + "] keys: " + list + ")");
  }
}

/// A TOML value as it would be written after `key = `.
std::string toml_value(const toml::node& node) {
  if (const auto text = node.value_exact<std::string>())
    return json_line(*text);  // a JSON string is a TOML basic string
  // The shortest text that reads back as the same double (1e-30, not toml++'s
  // 1.0000000000000001e-30): it names trial folders.
  if (const auto number = node.value_exact<double>()) return format_param_value(*number);
  std::ostringstream out;
  node.visit([&](auto&& value) { out << value; });
  return out.str();
}

/// A value as a folder-name fragment: letters, digits, '.', '-' kept, the rest '-'.
std::string folder_fragment(std::string text) {
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"')
    text = text.substr(1, text.size() - 2);
  std::string out;
  for (char c : text) {
    if (c == '+') continue;  // 1e+30 -> 1e30 (not 1e-30)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.') c = '-';
    if (c != '-' || (!out.empty() && out.back() != '-')) out += c;
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.substr(0, 40);
}

struct Axis {
  std::string key;
  std::vector<std::string> values;  // TOML
  toml::source_region source;
  std::vector<std::string> labels;  // one per value
};

/// The inline table a TOML value text holds, or null.
std::optional<toml::table> as_inline_table(const std::string& value) {
  if (value.empty() || value.front() != '{') return std::nullopt;
  try {
    toml::table parsed = toml::parse("v = " + value);
    if (toml::table* table = parsed["v"].as_table()) return std::move(*table);
  } catch (const toml::parse_error&) {
  }
  return std::nullopt;
}

/// Labels for an axis without [labels]: a plain value as it reads; for table values the
/// entries that differ between them, the plugin's name (strategy, selector, name) first
/// and bare, so that a folder name cut short still tells the trials apart.
std::vector<std::string> automatic_labels(const std::vector<std::string>& values) {
  std::vector<std::optional<toml::table>> tables;
  for (const std::string& value : values) tables.push_back(as_inline_table(value));
  const bool all_tables = std::all_of(tables.begin(), tables.end(),
                                      [](const auto& table) { return table.has_value(); });
  std::vector<std::string> labels;
  if (!all_tables || values.size() < 2) {
    for (const std::string& value : values)
      labels.push_back(value.size() >= 2 && value.front() == '"' && value.back() == '"'
                           ? value.substr(1, value.size() - 2)
                           : value);
    return labels;
  }
  std::set<std::string> keys;
  for (const auto& table : tables)
    for (auto&& [key, node] : *table) keys.insert(std::string(key.str()));
  auto text_of = [](const toml::table& table, const std::string& key) -> std::string {
    const toml::node* node = table.get(key);
    if (node == nullptr) return "";
    std::ostringstream out;
    if (const auto text = node->value_exact<std::string>())
      out << *text;
    else
      node->visit([&](auto&& v) { out << toml::toml_formatter(v); });
    return out.str();
  };
  std::vector<std::string> differing;
  for (const char* name : {"strategy", "selector", "name"}) differing.push_back(name);
  for (const std::string& key : keys)
    if (key != "strategy" && key != "selector" && key != "name") differing.push_back(key);
  for (const auto& table : tables) {
    std::string label;
    for (const std::string& key : differing) {
      bool differs = false;
      for (const auto& other : tables)
        differs = differs || text_of(*other, key) != text_of(*tables.front(), key) ||
                  (other->get(key) == nullptr) != (tables.front()->get(key) == nullptr);
      if (!differs || table->get(key) == nullptr) continue;
      const bool bare = key == "strategy" || key == "selector" || key == "name";
      label += (label.empty() ? "" : " ") + (bare ? "" : key + "=") + text_of(*table, key);
    }
    labels.push_back(label.empty() ? "(same)" : label);
  }
  return labels;
}

std::vector<Axis> read_axes(const toml::table& root, const std::string& section,
                            const fs::path& file) {
  std::vector<Axis> axes;
  const toml::node* node = root.get(section);
  if (node == nullptr) return axes;
  const toml::table* table = node->as_table();
  if (table == nullptr) fail(at(file, node->source()), "[" + section + "] must be a table");
  for (auto&& [key, value] : *table) {
    Axis axis{std::string(key.str()), {}, key.source(), {}};
    const std::string where = at(file, key.source());
    if (value.is_table())
      fail(where, "axis '" + axis.key + "' is a table; quote a dotted key: \"" + axis.key +
                      ".name\" = [...]");
    const toml::array* values = value.as_array();
    if (values == nullptr)
      fail(where, "axis '" + axis.key + "' must be a list of values, e.g. [1, 2]");
    if (values->empty())
      fail(where, "axis '" + axis.key + "' is empty: give it at least one value");
    for (const auto& v : *values) axis.values.push_back(toml_value(v));
    axes.push_back(std::move(axis));
  }
  // toml++ iterates a table in key order; the axes keep the file's order.
  std::stable_sort(axes.begin(), axes.end(), [](const Axis& a, const Axis& b) {
    return a.source.begin.line < b.source.begin.line;
  });
  return axes;
}

std::vector<int64_t> read_seeds(const toml::table& sweep, const fs::path& file) {
  const toml::node* node = sweep.get("seeds");
  if (node == nullptr) return {};
  const std::string where = at(file, node->source());
  if (const auto count = node->value_exact<int64_t>()) {
    if (*count < 1) fail(where, "sweep.seeds = " + std::to_string(*count) + ": give a count >= 1");
    std::vector<int64_t> seeds;
    for (int64_t s = 0; s < *count; ++s) seeds.push_back(s);
    return seeds;
  }
  const toml::array* list = node->as_array();
  if (list == nullptr)
    fail(where, "sweep.seeds must be a list of integers ([0, 1, 2]) or a count (3)");
  if (list->empty()) fail(where, "sweep.seeds is empty: give at least one seed");
  std::vector<int64_t> seeds;
  for (const auto& v : *list) {
    const auto seed = v.value_exact<int64_t>();
    if (!seed)
      fail(at(file, v.source().begin ? v.source() : node->source()),
           "sweep.seeds: " + toml_value(v) + " is not an integer seed");
    if (std::find(seeds.begin(), seeds.end(), *seed) != seeds.end())
      fail(where, "sweep.seeds lists " + std::to_string(*seed) + " twice");
    seeds.push_back(*seed);
  }
  return seeds;
}

std::string string_value(const toml::table& table, const std::string& section,
                         const std::string& key, const fs::path& file) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return "";
  const auto value = node->value_exact<std::string>();
  if (!value) fail(at(file, node->source()), section + "." + key + " must be a string");
  return *value;
}

int64_t int_value(const toml::table& table, const std::string& section, const std::string& key,
                  const fs::path& file) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return 0;
  const auto value = node->value_exact<int64_t>();
  if (!value || *value < 0)
    fail(at(file, node->source()), section + "." + key + " must be an integer >= 0");
  return *value;
}

SlurmOptions read_slurm(const toml::table& root, const fs::path& file) {
  SlurmOptions slurm;
  const toml::node* node = root.get("slurm");
  if (node == nullptr) return slurm;
  const toml::table* table = node->as_table();
  if (table == nullptr) fail(at(file, node->source()), "[slurm] must be a table");
  check_keys(*table, "slurm", kSlurmKeys, file);
  slurm.partition = string_value(*table, "slurm", "partition", file);
  slurm.time = string_value(*table, "slurm", "time", file);
  slurm.mem = string_value(*table, "slurm", "mem", file);
  slurm.cpus = int_value(*table, "slurm", "cpus", file);
  slurm.gpus = int_value(*table, "slurm", "gpus", file);
  if (const toml::node* extra = table->get("extra")) {
    const toml::array* list = extra->as_array();
    if (list == nullptr) fail(at(file, extra->source()), "slurm.extra must be a list of strings");
    for (const auto& v : *list) {
      const auto line = v.value_exact<std::string>();
      if (!line) fail(at(file, extra->source()), "slurm.extra must be a list of strings");
      slurm.extra.push_back(*line);
    }
  }
  return slurm;
}

}  // namespace

std::vector<std::string> SweepTrial::overrides() const {
  std::vector<std::string> out;
  for (const auto& [key, value] : settings) out.push_back(key + "=" + value);
  out.push_back("experiment.seed=" + std::to_string(seed));
  return out;
}

fs::path Sweep::base_config() const { return inline_base.empty() ? base : dir / "base.toml"; }

namespace {

using Setting = std::vector<std::pair<std::string, std::string>>;

toml::table parse_sweep_file(const fs::path& file) {
  try {
    return toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    std::ostringstream out;
    out << file.string();
    if (e.source().begin) out << ':' << e.source().begin.line << ':' << e.source().begin.column;
    const std::string what(e.description());
    if (what.find("No such file") != std::string::npos ||
        what.find("could not be opened") != std::string::npos)
      throw ConfigError(file.string() + ": cannot open the sweep file; check the path");
    throw ConfigError(out.str() + ": TOML syntax error: " + what);
  }
}

void check_tables(const toml::table& root, const fs::path& file) {
  for (auto&& [key, node] : root) {
    const std::string name(key.str());
    if (std::find(kTables.begin(), kTables.end(), name) != kTables.end()) continue;
    std::string message = "unknown table or key '" + name + "'";
    const std::string guess = did_you_mean(name, kTables);
    if (!guess.empty()) message += "; did you mean '" + guess + "'?";
    fail(at(file, key.source()),
         message + " (a sweep has [sweep], [grid], [zip], [base], [slurm])");
  }
}

/// [sweep]'s name and the base experiment: a file (sweep.base) or an inline [base].
const toml::table& read_sweep_table(const toml::table& root, const fs::path& file, Sweep& sweep) {
  const toml::table* table = root.get_as<toml::table>("sweep");
  if (table == nullptr)
    fail(file.string(), "no [sweep] table: give at least name and base (see `nasx sweep --help`)");
  check_keys(*table, "sweep", kSweepKeys, file);
  sweep.file = fs::absolute(file);
  sweep.name = string_value(*table, "sweep", "name", file);
  if (sweep.name.empty()) fail(file.string(), "sweep.name is missing: it names the sweep's folder");
  if (folder_fragment(sweep.name) != sweep.name)
    fail(at(file, table->get("name")->source()),
         "sweep.name '" + sweep.name + "' must be letters, digits, '.' and '-' (a folder name)");
  const std::string base = string_value(*table, "sweep", "base", file);
  const toml::node* inline_base = root.get("base");
  if (base.empty() == (inline_base == nullptr))
    fail(file.string(),
         "give the base experiment either as sweep.base = \"file.toml\" or as a [base] table");
  if (inline_base) {
    const toml::table* base_table = inline_base->as_table();
    if (base_table == nullptr) fail(at(file, inline_base->source()), "[base] must be a table");
    std::ostringstream out;
    out << *base_table;
    sweep.inline_base = out.str() + "\n";
  } else {
    sweep.base = fs::path(base).is_absolute() ? fs::path(base) : sweep.file.parent_path() / base;
    if (!fs::exists(sweep.base))
      fail(at(file, table->get("base")->source()),
           "sweep.base: " + sweep.base.string() + " does not exist");
  }
  if (const toml::node* nproc = table->get("nproc")) {
    const auto value = nproc->value_exact<int64_t>();
    if (!value || *value < 1 || *value > 1024)
      fail(at(file, nproc->source()),
           "sweep.nproc must be an integer from 1 to 1024 (ranks per trial)");
    sweep.nproc = *value;
  }
  return *table;
}

struct Axes {
  std::vector<Axis> grid, zip;
  std::map<std::string, toml::source_region> source;  ///< where each axis is
};

/// [labels]: a list of names per axis, one per value, for trial folders and tables.
void read_labels(const toml::table& root, const fs::path& file, Axes& axes) {
  std::map<std::string, Axis*> by_key;
  for (std::vector<Axis>* list : {&axes.grid, &axes.zip})
    for (Axis& axis : *list) by_key[axis.key] = &axis;
  for (auto& [key, axis] : by_key) axis->labels = automatic_labels(axis->values);
  const toml::node* node = root.get("labels");
  if (node == nullptr) return;
  const toml::table* table = node->as_table();
  if (table == nullptr) fail(at(file, node->source()), "[labels] must be a table");
  for (auto&& [key, value] : *table) {
    const std::string name(key.str());
    const std::string where = at(file, key.source());
    const auto axis = by_key.find(name);
    if (axis == by_key.end())
      fail(where, "labels." + name + ": no axis '" + name + "' in [grid] or [zip] to label");
    const toml::array* list = value.as_array();
    if (list == nullptr || list->size() != axis->second->values.size())
      fail(where, "labels." + name + " must be a list of " +
                      std::to_string(axis->second->values.size()) +
                      " names, one per value of the axis");
    const bool in_grid = std::any_of(axes.grid.begin(), axes.grid.end(),
                                     [&](const Axis& a) { return a.key == name; });
    std::set<std::string> seen;
    std::vector<std::string> labels;
    for (const auto& v : *list) {
      const auto text = v.value_exact<std::string>();
      if (!text || text->empty())
        fail(where, "labels." + name + " lists " + toml_value(v) + ", not a name");
      // A grid value is named alone; a zip row by all its axes' labels together, which
      // lets one name repeat ("own" for every strategy that selects its own answer).
      if (in_grid && !seen.insert(*text).second)
        fail(where, "labels." + name + " lists '" + *text + "' twice; each value needs its own");
      labels.push_back(*text);
    }
    axis->second->labels = std::move(labels);
  }
  std::map<std::vector<std::string>, size_t> rows;
  for (size_t row = 0; !axes.zip.empty() && row < axes.zip[0].values.size(); ++row) {
    std::vector<std::string> names;
    for (const Axis& axis : axes.zip) names.push_back(axis.labels[row]);
    const auto [first, fresh] = rows.emplace(names, row);
    if (fresh) continue;
    std::string joined;
    for (const auto& n : names) joined += (joined.empty() ? "'" : "', '") + n;
    fail(at(file, node->source()),
         "[labels] name zip rows " + std::to_string(first->second + 1) + " and " +
             std::to_string(row + 1) + " alike (" + joined +
             "'); each row needs its own combination of names");
  }
}

/// [grid] and [zip], checked; their keys go to sweep.axes.
Axes read_all_axes(const toml::table& root, const fs::path& file, Sweep& sweep) {
  Axes axes{read_axes(root, "grid", file), read_axes(root, "zip", file), {}};
  const std::vector<Axis>& zip = axes.zip;
  for (size_t i = 1; i < zip.size(); ++i)
    if (zip[i].values.size() != zip[0].values.size())
      fail(at(file, zip[i].source),
           "zip axis '" + zip[i].key + "' has " + std::to_string(zip[i].values.size()) +
               " values but '" + zip[0].key + "' has " + std::to_string(zip[0].values.size()) +
               "; zip axes are walked together and need equal lengths");
  for (const auto* list : {&axes.grid, &axes.zip})
    for (const Axis& axis : *list) {
      if (!axes.source.emplace(axis.key, axis.source).second)
        fail(at(file, axis.source), "axis '" + axis.key + "' appears in both [grid] and [zip]");
      if (axis.key == "experiment.seed")
        fail(at(file, axis.source), "seeds are given by sweep.seeds, not by an axis");
      // A whole section is an axis too when its values are tables: [search] tables
      // with each strategy's own keys, e.g. "search" = [{strategy = "darts", order =
      // "second"}, {strategy = "milenas"}].
      const bool tables = std::all_of(axis.values.begin(), axis.values.end(),
                                      [](const std::string& v) { return v.front() == '{'; });
      if (axis.key.find('.') == std::string::npos && !tables)
        fail(at(file, axis.source), "axis '" + axis.key +
                                        "' must be a config key with its section, e.g. "
                                        "\"search.epochs\", or a section whose values are "
                                        "tables, e.g. \"search\" = [{strategy = \"darts\"}]");
      sweep.axes.push_back(axis.key);
    }
  read_labels(root, file, axes);
  return axes;
}

/// A setting with the label of each of its values, taken by position: a zip may list
/// one value twice (the same search under two selections) with a label for each.
struct LabelledSetting {
  Setting setting;
  std::vector<std::string> labels;
};

/// The settings: the grid's product, crossed with the zip's rows.
std::vector<LabelledSetting> expand(const Axes& axes) {
  std::vector<LabelledSetting> settings = {{}};
  for (const Axis& axis : axes.grid) {
    std::vector<LabelledSetting> next;
    for (const auto& partial : settings)
      for (size_t v = 0; v < axis.values.size(); ++v) {
        auto extended = partial;
        extended.setting.push_back({axis.key, axis.values[v]});
        extended.labels.push_back(axis.labels[v]);
        next.push_back(std::move(extended));
      }
    settings = std::move(next);
  }
  if (!axes.zip.empty()) {
    std::vector<LabelledSetting> next;
    for (const auto& partial : settings)
      for (size_t row = 0; row < axes.zip[0].values.size(); ++row) {
        auto extended = partial;
        for (const Axis& axis : axes.zip) {
          extended.setting.push_back({axis.key, axis.values[row]});
          extended.labels.push_back(axis.labels[row]);
        }
        next.push_back(std::move(extended));
      }
    settings = std::move(next);
  }
  return settings;
}

/// The base experiment with `overrides`: from its file, or from the inline table's text.
RunConfig load_base(const Sweep& sweep, const std::vector<std::string>& overrides,
                    const PluginRegistry& registry, ConfigUse use) {
  if (sweep.inline_base.empty())
    return load_run_config(sweep.base.string(), overrides, registry, use);
  return load_run_config_text(sweep.inline_base, sweep.file.string() + " [base]", overrides,
                              registry, use);
}

/// [sweep] architectures: "all" of a finite space, a count of seeded samples
/// (sample_seed), or a list of texts; each checked against the space.
std::vector<std::string> read_architectures(const toml::table& sweep_table, const fs::path& file,
                                            const SearchSpace& space) {
  const toml::node* node = sweep_table.get("architectures");
  if (node == nullptr) return {};
  const std::string where = at(file, node->source());
  std::vector<std::string> texts;
  if (const auto all = node->value_exact<std::string>()) {
    if (*all != "all")
      fail(where, "sweep.architectures = \"" + *all +
                      "\": give \"all\", a count of sampled architectures, or a list of them");
    try {
      for (const Architecture& arch : enumerate_architectures(space, 100000))
        texts.push_back(space.format(arch));
    } catch (const ConfigError& e) {
      fail(where, std::string(e.what()) + " (sweep.architectures = N samples N of them)");
    }
  } else if (const auto count = node->value_exact<int64_t>()) {
    if (*count < 1 || *count > 1000000)
      fail(where, "sweep.architectures = " + std::to_string(*count) +
                      ": give a count of sampled architectures from 1 to 1000000");
    const toml::node* seed_node = sweep_table.get("sample_seed");
    const auto seed = seed_node ? seed_node->value_exact<int64_t>() : std::optional<int64_t>(0);
    if (!seed) fail(at(file, seed_node->source()), "sweep.sample_seed must be an integer");
    // Distinct architectures: a table has one row per architecture and seed.
    std::mt19937_64 rng(static_cast<uint64_t>(*seed));
    std::set<Architecture> drawn;
    const int64_t available = count_architectures(space);
    if (*count > available)
      fail(where, "sweep.architectures = " + std::to_string(*count) + ", but space '" +
                      space.name() + "' has only " + std::to_string(available) +
                      "; give architectures = \"all\"");
    while (static_cast<int64_t>(texts.size()) < *count) {
      const Architecture arch = space.sample(rng);
      if (drawn.insert(arch).second) texts.push_back(space.format(arch));
    }
  } else if (const toml::array* list = node->as_array()) {
    if (list->empty()) fail(where, "sweep.architectures is empty");
    std::set<std::string> seen;
    for (const auto& v : *list) {
      const std::string at_value = at(file, v.source().begin ? v.source() : node->source());
      const auto text = v.value_exact<std::string>();
      if (!text) fail(at_value, "sweep.architectures lists " + toml_value(v) + ", not a text");
      try {
        texts.push_back(space.format(space.parse(*text)));
      } catch (const Error& e) {
        fail(at_value, "sweep.architectures: not an architecture of space '" + space.name() +
                           "': " + e.what());
      }
      if (!seen.insert(texts.back()).second)
        fail(at_value, "sweep.architectures lists " + texts.back() + " twice");
    }
  } else {
    fail(where, "sweep.architectures must be \"all\", a count or a list of architecture texts");
  }
  return texts;
}

/// NNN_<architecture>_<axis>-<label>..._seed<S>, naming only the axes with more than one
/// value (`"experiment.threads" = [1]` sets every trial alike and tells none apart).
std::string trial_name(int64_t index, const std::string& architecture, const SweepTrial& trial,
                       const std::set<std::string>& varying) {
  char prefix[24];
  std::snprintf(prefix, sizeof prefix, "%03lld", static_cast<long long>(index));
  std::string name = prefix;
  if (!architecture.empty()) name += "_" + folder_fragment(architecture);
  for (size_t s = 0; s < trial.settings.size(); ++s) {
    const std::string& key = trial.settings[s].first;
    if (!varying.count(key)) continue;
    name += "_" + key.substr(key.rfind('.') + 1) + "-" + folder_fragment(trial.labels[s]);
  }
  return name + "_seed" + std::to_string(trial.seed);
}

/// A trial's config loads (and splits over sweep.nproc ranks); an error points at the
/// sweep file's axis (or nproc) that caused it.
void check_trial(const Sweep& sweep, const SweepTrial& trial, const Axes& axes,
                 const toml::table& sweep_table, const PluginRegistry& registry) {
  const fs::path& file = sweep.file;
  std::optional<RunConfig> config;
  try {
    config = load_base(sweep, trial.overrides(), registry,
                       sweep.builds_table() ? ConfigUse::train : ConfigUse::search);
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    for (const auto& [key, value] : trial.settings)
      if (message.find("--set " + key + "=") != std::string::npos ||
          message.find("'" + key.substr(0, key.find('.')) + "'") != std::string::npos) {
        const size_t set = message.find("--set ");
        const std::string what =
            set == std::string::npos ? " " + message : message.substr(message.find(':', set) + 1);
        fail(at(file, axes.source.at(key)),
             "axis '" + key + "' (value " + value + ", trial " + trial.name + "):" + what);
      }
    fail(file.string(), "trial " + trial.name + ": " + message);
  }
  if (sweep.nproc <= 1) return;
  try {
    check_data_parallel_run(*config, registry, static_cast<int>(sweep.nproc));
  } catch (const ConfigError& e) {
    fail(at(file, sweep_table.get("nproc")->source()), "trial " + trial.name + ": " + e.what());
  }
}

}  // namespace

Sweep load_sweep(const fs::path& file, const PluginRegistry& registry, SweepKind expected) {
  const toml::table root = parse_sweep_file(file);
  check_tables(root, file);
  Sweep sweep;
  const toml::table& sweep_table = read_sweep_table(root, file, sweep);
  const Axes axes = read_all_axes(root, file, sweep);
  std::vector<int64_t> seeds = read_seeds(sweep_table, file);
  const toml::node* architectures = sweep_table.get("architectures");
  if (architectures == nullptr && expected == SweepKind::table_build)
    fail(at(file, sweep_table.source()),
         "a sweep of searches, not a table build; give [sweep] architectures = \"all\" (or a "
         "count, or a list) and a training preset as base, or run it with `nasx sweep`");
  if (architectures != nullptr && !sweep.axes.empty())
    fail(at(file, axes.source.at(sweep.axes.front())),
         "a table build (sweep.architectures) trains every architecture with one preset: it "
         "has no [grid] or [zip]; write one table file per preset");
  if (architectures != nullptr && sweep.nproc > 1)
    fail(at(file, sweep_table.get("nproc")->source()),
         "a table build's trainings run on one rank each: leave out sweep.nproc");
  if (architectures == nullptr && sweep_table.get("sample_seed") != nullptr)
    fail(at(file, sweep_table.get("sample_seed")->source()),
         "sweep.sample_seed draws sweep.architectures = N: give that too, or leave it out");

  // Every trial's config must load before anything runs.
  std::optional<RunConfig> base;
  try {
    base = load_base(sweep, {}, registry,
                     architectures != nullptr ? ConfigUse::train : ConfigUse::search);
  } catch (const ConfigError& e) {
    const toml::node* inline_base = root.get("base");
    fail(inline_base ? at(file, inline_base->source()) : file.string(),
         std::string("the base experiment is not valid: ") + e.what());
  }
  sweep.space = base->space.name;
  if (architectures != nullptr)
    sweep.architectures = read_architectures(sweep_table, file, *make_space(registry, base->space));
  if (seeds.empty()) seeds = {base->experiment.seed};
  std::set<std::string> varying;
  for (const std::vector<Axis>* list : {&axes.grid, &axes.zip})
    for (const Axis& axis : *list)
      if (axis.values.size() > 1) varying.insert(axis.key);
  int64_t index = 0;
  auto add_trial = [&](const std::string& architecture, const LabelledSetting& setting,
                       int64_t seed) {
    SweepTrial trial;
    trial.settings = setting.setting;
    trial.labels = setting.labels;
    trial.seed = seed;
    trial.architecture = architecture;
    trial.name = trial_name(index++, architecture, trial, varying);
    // A table's trainings share one preset: its first trial stands for all.
    if (!sweep.builds_table() || sweep.trials.empty())
      check_trial(sweep, trial, axes, sweep_table, registry);
    sweep.trials.push_back(std::move(trial));
  };
  if (sweep.builds_table()) {
    // Seed by seed: a build stopped half-way has whole seeds of the table.
    for (int64_t seed : seeds)
      for (const std::string& architecture : sweep.architectures) add_trial(architecture, {}, seed);
  } else {
    for (const LabelledSetting& setting : expand(axes))
      for (int64_t seed : seeds) add_trial("", setting, seed);
  }
  const std::string output_dir = string_value(sweep_table, "sweep", "output_dir", file);
  sweep.dir = fs::path(output_dir.empty() ? base->experiment.output_dir : output_dir) / sweep.name;
  sweep.slurm = read_slurm(root, file);
  if (const std::string truth = string_value(sweep_table, "sweep", "truth", file); !truth.empty()) {
    const toml::node* node = sweep_table.get("truth");
    if (architectures != nullptr)
      fail(at(file, node->source()), "a table build makes a ground truth; leave out sweep.truth");
    sweep.truth = fs::absolute(file.parent_path() / truth).lexically_normal();
    try {
      read_table(sweep.truth).check_space(sweep.space, "sweep.truth");
    } catch (const ConfigError& e) {
      fail(at(file, node->source()), e.what());
    }
  }
  return sweep;
}

void write_sweep_folder(const Sweep& sweep) {
  std::error_code error;
  fs::create_directories(sweep.dir, error);
  if (error)
    throw IoError("cannot create the sweep folder " + sweep.dir.string() + ": " + error.message() +
                  "; set sweep.output_dir to a writable folder");
  write_file_atomically(sweep.dir / "sweep.toml", read_text_file(sweep.file));
  if (!sweep.inline_base.empty()) write_file_atomically(sweep.dir / "base.toml", sweep.inline_base);
  Json trials = Json::array();
  for (const SweepTrial& trial : sweep.trials) {
    Json settings = Json::object(), labels = Json::object();
    for (size_t s = 0; s < trial.settings.size(); ++s) {
      settings[trial.settings[s].first] = trial.settings[s].second;
      labels[trial.settings[s].first] = trial.labels[s];
    }
    JsonObject entry;
    entry.add("name", trial.name).add("seed", trial.seed).add("settings", settings);
    if (!trial.labels.empty()) entry.add("labels", labels);
    if (!trial.architecture.empty()) entry.add("architecture", trial.architecture);
    trials.push_back(entry.json());
  }
  write_file_atomically(sweep.dir / "sweep.json", JsonObject()
                                                          .add("name", sweep.name)
                                                          .add("base", sweep.base_config().string())
                                                          .add("axes", sweep.axes)
                                                          .add("space", sweep.space)
                                                          .add("table", sweep.builds_table())
                                                          .add("truth", sweep.truth.string())
                                                          .add("trials", trials)
                                                          .json()
                                                          .dump(2) +
                                                      "\n");
}

TrialState trial_state(const fs::path& trial_dir) {
  const RunPaths paths(trial_dir);
  std::error_code error;
  const TrainPaths training(trial_dir);
  if (fs::exists(training.config, error))
    return fs::exists(training.summary, error) ? TrialState::Done : TrialState::Started;
  if (!fs::exists(paths.config, error)) return TrialState::New;
  if (!fs::exists(paths.summary, error)) return TrialState::Started;
  // A config with [train] is done once its training is.
  const std::string config = read_text_file(paths.config);
  if (config.find("\n[train]") != std::string::npos &&
      !fs::exists(TrainPaths(trial_dir / "train").summary, error))
    return TrialState::Started;
  return TrialState::Done;
}

std::vector<std::string> trial_command(const Sweep& sweep, const SweepTrial& trial,
                                       const std::vector<std::string>& plugin_paths) {
  const fs::path dir = sweep.dir / trial.name;
  std::vector<std::string> args;
  if (trial_state(dir) == TrialState::Started) {
    args = {"resume", dir.string()};
  } else {
    if (trial.architecture.empty())
      args = {"run", sweep.base_config().string()};
    else
      args = {"train", trial.architecture, "--config", sweep.base_config().string()};
    for (const auto& o : trial.overrides()) {
      args.push_back("--set");
      args.push_back(o);
    }
    args.push_back("--out");
    args.push_back(dir.string());
  }
  if (sweep.nproc > 1) {
    args.push_back("--nproc");
    args.push_back(std::to_string(sweep.nproc));
  }
  for (const auto& p : plugin_paths) {
    args.push_back("--plugin-path");
    args.push_back(p);
  }
  return args;
}

std::string tail_of_file(const fs::path& path, int lines) {
  std::istringstream in(read_text_file(path));
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string out;
  for (size_t k = all.size() > static_cast<size_t>(lines) ? all.size() - lines : 0; k < all.size();
       ++k)
    out += all[k] + "\n";
  return out;
}

}  // namespace nasx::core
