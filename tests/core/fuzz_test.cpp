// The fuzz and fault-injection suite: seeded, bounded, part of every test run.
// Mutated configs and architecture strings (in-process, thousands, plus a sample through
// the executable), damaged plugin files, kills at random moments and at every named kill
// point, truncated and corrupted run folders. What may come out: an accepted input, or
// one clear nasx error (exit 1). Never an internal error (exit 3), a crash or a hang.
// Each test prints its counts ("fuzz: ...") for the record.

#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/nasx_process.hpp"
#include "core/tiny_config.hpp"
#include "nasx/core/config.hpp"
#include "nasx/core/registry.hpp"
#include "nasx/error.hpp"
#include "support/spaces.hpp"

namespace nasx {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

using testing::Outcome;
using testing::read;
using testing::run_nasx;

constexpr uint64_t kSeed = 15;

/// Values that have broken parsers before: bounds of every numeric type, subnormals,
/// special floats, huge sizes, odd strings.
const std::vector<std::string> kHostileValues = {
    "0", "-1", "1e-310", "4.9e-324", "2.2250738585072014e-308", "1e308", "1.8e308", "-0.0",
    "nan", "inf", "-inf", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
    "4294967296", "2147483648", "0x7fffffff", "0o777", "0b101", "1_000", "true", "\"\"",
    "\"" + std::string(300, 'x') + "\"", "\"\\u0000\"", "[]", "[1, \"a\"]", "{}", "{ a = 1 }",
    "1979-05-27T07:32:00Z", "\"darts\"", "\"nb201\"", "\"../../etc\"", "'single'", "1.5"};

/// One random edit of `text`: a byte deleted, inserted or replaced, a line dropped or
/// repeated, lines swapped, a value replaced by a hostile one, or a key renamed.
std::string mutate(const std::string& text, std::mt19937_64& rng) {
  std::string out = text;
  const auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  const std::string bytes = "[]=\"'.#\n \\{},:0123456789abcxyz-+e\t\x01\xff";
  std::vector<std::string> lines;
  for (size_t start = 0; start <= out.size();) {
    const size_t end = out.find('\n', start);
    lines.push_back(out.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  const auto join = [&] {
    std::string joined;
    for (size_t i = 0; i < lines.size(); ++i) joined += (i ? "\n" : "") + lines[i];
    return joined;
  };
  switch (rng() % 8) {
    case 0:
      if (!out.empty()) out.erase(pick(out.size()), 1 + pick(4));
      return out;
    case 1:
      out.insert(pick(out.size() + 1), 1, bytes[pick(bytes.size())]);
      return out;
    case 2:
      if (!out.empty()) out[pick(out.size())] = bytes[pick(bytes.size())];
      return out;
    case 3:
      lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(pick(lines.size())));
      return join();
    case 4: {
      const size_t i = pick(lines.size());
      lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(i), lines[i]);
      return join();
    }
    case 5:
      std::swap(lines[pick(lines.size())], lines[pick(lines.size())]);
      return join();
    case 6: {  // a value replaced
      std::vector<size_t> assignments;
      for (size_t i = 0; i < lines.size(); ++i)
        if (lines[i].find(" = ") != std::string::npos) assignments.push_back(i);
      if (assignments.empty()) return out;
      std::string& line = lines[assignments[pick(assignments.size())]];
      line = line.substr(0, line.find(" = ") + 3) + kHostileValues[pick(kHostileValues.size())];
      return join();
    }
    default: {  // a key renamed or a section renamed
      const size_t i = pick(lines.size());
      if (!lines[i].empty()) lines[i].insert(pick(std::min<size_t>(lines[i].size(), 8)), "z");
      return join();
    }
  }
}

/// Several mutations in a row: most inputs of a fuzz run are a little wrong, some very.
std::string mutated(const std::string& text, std::mt19937_64& rng) {
  std::string out = text;
  for (int n = 1 + static_cast<int>(rng() % 3); n > 0; --n) out = mutate(out, rng);
  return out;
}

class Fuzz : public testing::FolderTest {
 protected:
  static core::PluginRegistry& registry() {
    static core::PluginRegistry* loaded = [] {
      auto* r = new core::PluginRegistry();
      for (const auto& dir : core::PluginRegistry::default_directories()) r->add_directory(dir, false);
      return r;
    }();
    return *loaded;
  }
};

TEST_F(Fuzz, MutatedConfigsAreAcceptedOrRefusedWithAConfigError) {
  std::mt19937_64 rng(kSeed);
  const std::vector<std::string> bases = {
      testing::tiny_search_config("epochs = 2\n"),
      read(fs::path(NASX_TEST_SOURCE_DIR) / "configs/quickstart.toml"),
      read(fs::path(NASX_TEST_SOURCE_DIR) / "configs/evolution-quick.toml"),
      read(fs::path(NASX_TEST_SOURCE_DIR) / "configs/train-darts-fmnist.toml")};
  std::map<std::string, int> outcomes;
  std::vector<std::string> kept;  // a sample for the executable below
  constexpr int kCases = 3000;
  for (int i = 0; i < kCases; ++i) {
    const std::string text = mutated(bases[static_cast<size_t>(i) % bases.size()], rng);
    // Every other case also takes a hostile --set override.
    std::vector<std::string> overrides;
    if (i % 2 == 1) {
      static const std::vector<std::string> keys = {"search.epochs", "search.w_lr", "data.subset",
                                                    "data.batch_size", "experiment.seed",
                                                    "space.channels", "train.lr", "nosuch.key"};
      overrides.push_back(keys[rng() % keys.size()] + "=" +
                          kHostileValues[rng() % kHostileValues.size()]);
    }
    try {
      core::load_run_config_text(text, "fuzz.toml", overrides, registry(),
                                 core::ConfigUse::train);
      ++outcomes["accepted"];
    } catch (const ConfigError&) {
      ++outcomes["ConfigError"];
    } catch (const Error& e) {
      ++outcomes[std::string("other nasx::Error: ") + e.what()];
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not a nasx error: " << e.what() << "\nfor:\n" << text;
      ++outcomes["NOT A NASX ERROR"];
    }
    if (i % 100 == 0) kept.push_back(text);
  }
  // A sample through the executable: exit 0 or 1, one message, nothing else.
  std::map<int, int> exits;
  for (size_t i = 0; i < kept.size(); ++i) {
    const fs::path file = dir_ / ("case" + std::to_string(i) + ".toml");
    std::ofstream(file, std::ios::binary) << kept[i];
    const Outcome outcome = run_nasx("validate " + file.string());
    ++exits[outcome.exit_code];
    EXPECT_TRUE(outcome.exit_code == 0 || outcome.exit_code == 1) << outcome.output << kept[i];
    EXPECT_THAT(outcome.output, Not(HasSubstr("internal error")));
  }
  std::cout << "fuzz: " << kCases << " mutated configs in-process:";
  for (const auto& [what, n] : outcomes) std::cout << " " << what << " " << n << ";";
  std::cout << " " << kept.size() << " through nasx validate:";
  for (const auto& [code, n] : exits) std::cout << " exit " << code << " x" << n << ";";
  std::cout << "\n";
  EXPECT_EQ(outcomes.count("NOT A NASX ERROR"), 0u);
}

TEST_F(Fuzz, MutatedArchitectureStringsParseToACanonicalFormOrFailWithAGenotypeError) {
  std::mt19937_64 rng(kSeed + 1);
  struct Base {
    std::string space;
    std::string text;
  };
  const std::vector<Base> bases = {
      {"nb201", "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"},
      {"darts",
       "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), "
       "('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
       "('skip_connect', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
       "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0), ('max_pool_3x3', 0), "
       "('skip_connect', 2), ('skip_connect', 2), ('avg_pool_3x3', 0)], reduce_concat=[2, 3, 4, "
       "5])"}};
  std::map<std::string, int> outcomes;
  constexpr int kCases = 4000;
  for (int i = 0; i < kCases; ++i) {
    const Base& base = bases[static_cast<size_t>(i) % bases.size()];
    const auto space = testing::make_space(base.space);
    std::string text = base.text;
    for (int n = 1 + static_cast<int>(rng() % 3); n > 0; --n) {
      const std::string bytes = "|~+0123456789(),[]'\" _abcnorspvx\x01";
      switch (rng() % 4) {
        case 0:
          text.erase(rng() % text.size(), 1 + rng() % 3);
          break;
        case 1:
          text.insert(rng() % (text.size() + 1), 1, bytes[rng() % bytes.size()]);
          break;
        case 2:
          text[rng() % text.size()] = bytes[rng() % bytes.size()];
          break;
        default:  // a number replaced by a huge one
          if (const auto at = text.find_first_of("0123456789", rng() % text.size());
              at != std::string::npos)
            text.replace(at, 1, "99999999999999999999");
      }
      if (text.empty()) text = "|";
    }
    try {
      const Architecture arch = space->parse(text);
      const std::string canonical = space->format(arch);
      EXPECT_EQ(space->format(space->parse(canonical)), canonical) << text;
      ++outcomes[base.space + " parsed"];
    } catch (const GenotypeError&) {
      ++outcomes[base.space + " GenotypeError"];
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not a GenotypeError: " << e.what() << " for " << text;
      ++outcomes["NOT A GENOTYPE ERROR"];
    }
  }
  std::cout << "fuzz: " << kCases << " mutated architecture strings:";
  for (const auto& [what, n] : outcomes) std::cout << " " << what << " " << n << ";";
  std::cout << "\n";
}

TEST_F(Fuzz, DamagedPluginFilesAreReportedNeverCrashTheHost) {
  const fs::path original =
      fs::path(core::PluginRegistry::default_directories().front()) / "nasx_strategy_random.so";
  ASSERT_TRUE(fs::exists(original)) << original;
  const std::string bytes = read(original);
  std::mt19937_64 rng(kSeed + 2);
  std::vector<std::pair<std::string, std::string>> damaged;  // name, content
  for (size_t cut : {size_t{0}, size_t{16}, size_t{64}, size_t{1024}, size_t{4096},
                     size_t{40800}, bytes.size() / 2, bytes.size() - 1})
    damaged.push_back({"cut" + std::to_string(cut), bytes.substr(0, cut)});
  for (int i = 0; i < 32; ++i) {  // one flipped byte anywhere
    std::string copy = bytes;
    const size_t at = i < 16 ? rng() % 4096 : rng() % copy.size();  // half in the headers
    copy[at] = static_cast<char>(copy[at] ^ (1 + rng() % 255));
    damaged.push_back({"flip" + std::to_string(at), copy});
  }
  for (int i = 0; i < 8; ++i) {  // 16 bytes overwritten
    std::string copy = bytes;
    copy.replace(rng() % (copy.size() - 16), 16, std::string(16, static_cast<char>(rng())));
    damaged.push_back({"overwrite" + std::to_string(i), copy});
  }
  std::map<std::string, int> outcomes;
  for (const auto& [name, content] : damaged) {
    const fs::path folder = dir_ / name;
    fs::create_directories(folder);
    std::ofstream(folder / "nasx_damaged.so", std::ios::binary) << content;
    const Outcome listed = run_nasx("plugins list --plugin-path " + folder.string());
    EXPECT_EQ(listed.exit_code, 0) << name << "\n" << listed.output;
    EXPECT_THAT(listed.output, Not(HasSubstr("internal error"))) << name;
    EXPECT_THAT(listed.output, HasSubstr("random")) << name;  // the other plugins still load
    const bool reported = listed.output.find("nasx_damaged.so") != std::string::npos;
    ++outcomes[listed.exit_code == 0 ? (reported ? "exit 0, file reported" : "exit 0") :
                                       "exit " + std::to_string(listed.exit_code)];
  }
  std::cout << "fuzz: " << damaged.size() << " damaged plugin files:";
  for (const auto& [what, n] : outcomes) std::cout << " " << what << " x" << n << ";";
  std::cout << "\n";
}

/// summary.json without its wall-clock fields.
std::string summary_without_times(const std::string& summary) {
  return std::regex_replace(
      summary,
      std::regex(",? ?\"(search_seconds|finished|train_seconds|evaluation_seconds)\": [^,}]+"),
      "");
}

TEST_F(Fuzz, KilledAtRandomMomentsAndKillPointsARunResumesToTheIdenticalResult) {
  const fs::path config = dir_ / "config.toml";
  std::ofstream(config) << testing::tiny_search_config();
  struct Case {
    std::string name;
    std::string settings;
    int steps;
  };
  const std::vector<Case> cases = {
      {"darts", "--set search.epochs=4", 4},
      {"random",
       "--set search.strategy=random --set space.name=nb201 --set space.layers=1 "
       "--set search.supernet_epochs=2 --set search.candidates=9 --set search.evaluations_per_step=3",
       6}};  // 2 supernet epochs, 3 steps of candidates, the top-k re-score
  std::mt19937_64 rng(kSeed + 3);
  std::map<std::string, int> kills;
  for (const Case& c : cases) {
    const std::string cfg = config.string() + " " + c.settings;
    const fs::path reference = dir_ / (c.name + "-reference");
    const Outcome ref = run_nasx("run " + cfg + " --out " + reference.string());
    ASSERT_EQ(ref.exit_code, 0) << ref.output;
    const fs::path run = dir_ / c.name;
    // Until it finishes: killed at a random kill point, or after a random time.
    bool started = false, finished = false;
    for (int attempt = 0; attempt < 12 && !finished; ++attempt) {
      const std::string command =
          started ? "resume " + run.string() : "run " + cfg + " --out " + run.string();
      Outcome outcome;
      if (attempt % 3 == 2) {
        const int milliseconds = 200 + static_cast<int>(rng() % 3000);
        outcome = testing::run_shell(testing::kNasx + " " + command + " & pid=$!; sleep " +
                                     std::to_string(milliseconds / 1000.0) +
                                     "; kill -9 $pid 2>/dev/null; wait $pid");
        ++kills["after " + std::to_string(milliseconds / 1000) + "s"];
      } else {
        static const std::vector<std::string> points = {"step_logged", "checkpoint",
                                                        "answer_logged", "genotype_written"};
        const std::string point = points[rng() % points.size()];
        const int nth = point == "step_logged" || point == "checkpoint"
                            ? 1 + static_cast<int>(rng() % 2)
                            : 1;
        outcome = run_nasx(command, "NASX_KILL_AT=" + point + ":" + std::to_string(nth));
        ++kills[point];
      }
      EXPECT_TRUE(outcome.exit_code == 0 || outcome.exit_code == 128 + SIGKILL ||
                  outcome.exit_code == 137)
          << command << "\n" << outcome.output;
      started = started || fs::exists(run / "config.toml");
      finished = fs::exists(run / "summary.json");
    }
    if (!finished) {
      const Outcome last = run_nasx("resume " + run.string());
      ASSERT_EQ(last.exit_code, 0) << last.output;
    }
    EXPECT_EQ(summary_without_times(read(run / "summary.json")),
              summary_without_times(read(reference / "summary.json")))
        << c.name;
    EXPECT_EQ(read(run / "genotypes.jsonl"), read(reference / "genotypes.jsonl")) << c.name;
    EXPECT_EQ(testing::count(read(run / "events.jsonl"), "\"type\": \"step\""), c.steps);
  }
  std::cout << "fuzz: kills:";
  for (const auto& [what, n] : kills) std::cout << " " << what << " x" << n << ";";
  std::cout << "\n";
}

TEST_F(Fuzz, TruncatedAndCorruptedRunFoldersResumeIdenticallyOrAreRefusedUntouched) {
  const fs::path config = dir_ / "config.toml";
  std::ofstream(config) << testing::tiny_search_config();
  const fs::path reference = dir_ / "reference";
  const Outcome ref =
      run_nasx("run " + config.string() + " --set search.epochs=2 --out " + reference.string());
  ASSERT_EQ(ref.exit_code, 0) << ref.output;
  std::mt19937_64 rng(kSeed + 4);
  const std::vector<std::string> files = {"events.jsonl", "genotypes.jsonl",
                                          "checkpoint/state.pt", "config.toml"};
  std::map<std::string, int> outcomes;
  for (int i = 0; i < 20; ++i) {
    const fs::path copy = dir_ / ("case" + std::to_string(i));
    fs::copy(reference, copy, fs::copy_options::recursive);
    fs::remove(copy / "summary.json");
    fs::remove(copy / "genotype.txt");
    const std::string file = files[rng() % files.size()];
    std::string bytes = read(copy / file);
    const bool cut = rng() % 2 == 0;
    if (cut)
      bytes.resize(rng() % (bytes.size() + 1));
    else if (!bytes.empty())
      bytes[rng() % bytes.size()] ^= static_cast<char>(1 + rng() % 255);
    std::ofstream(copy / file, std::ios::binary | std::ios::trunc) << bytes;
    const Outcome resumed = run_nasx("resume " + copy.string());
    const std::string kind = file + (cut ? " cut" : " flipped");
    EXPECT_TRUE(resumed.exit_code == 0 || resumed.exit_code == 1) << kind << resumed.output;
    EXPECT_THAT(resumed.output, Not(HasSubstr("internal error"))) << kind;
    if (resumed.exit_code == 0) {
      // Accepted only when the damage did not touch what the result depends on.
      EXPECT_EQ(summary_without_times(read(copy / "summary.json")),
                summary_without_times(read(reference / "summary.json")))
          << kind;
    } else {
      EXPECT_EQ(read(copy / file), bytes) << kind << ": a refused resume changed the file";
      EXPECT_FALSE(fs::exists(copy / "summary.json")) << kind;
    }
    ++outcomes[kind + (resumed.exit_code == 0 ? ": identical result" : ": refused")];
    fs::remove_all(copy);
  }
  std::cout << "fuzz: 20 damaged run folders:";
  for (const auto& [what, n] : outcomes) std::cout << " " << what << " x" << n << ";";
  std::cout << "\n";
}

}  // namespace
}  // namespace nasx
