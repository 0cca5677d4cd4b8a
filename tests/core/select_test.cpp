// End-to-end tests of the `perturbation` selector (DARTS-PT) through the real plugin file:
// in `nasx run` and `nasx select`, on both spaces, and killed mid-selection.

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/nasx_process.hpp"

namespace nasx {
namespace {

using ::testing::HasSubstr;
using testing::Outcome;
using testing::read;
using testing::run_nasx;
namespace fs = std::filesystem;

/// Occurrences of `needle` in `text`.
using testing::count;

/// The lines of events.jsonl that record decisions (they carry exact accuracies).
std::string decisions_of(const std::string& events) {
  std::string out;
  std::istringstream lines(events);
  for (std::string line; std::getline(lines, line);)
    if (line.find("\"type\": \"pt_") != std::string::npos) out += line + "\n";
  return out;
}

class Select : public testing::FolderTest {
 protected:
  /// A 2-epoch DARTS search on synthetic data, selected by perturbation with one tuning
  /// epoch of 2 minibatches per decision and 2 validation minibatches per evaluation.
  std::string config(const std::string& space = "name = \"darts\"\nchannels = 4\nlayers = 3") {
    const fs::path path = dir_ / "config.toml";
    std::ofstream(path) << "[experiment]\nname = \"pt\"\nseed = 4\nthreads = 1\n\n"
                        << "[data]\nname = \"synthetic\"\nsynthetic_train = 512\n"
                        << "synthetic_test = 128\nsynthetic_image_size = 8\n"
                        << "synthetic_classes = 4\nbatch_size = 32\n\n"
                        << "[space]\n"
                        << space << "\n\n"
                        << "[search]\nstrategy = \"darts\"\nepochs = 2\n\n"
                        << "[select]\nselector = \"perturbation\"\ntune_epochs = 1\n"
                        << "steps_per_epoch = 2\neval_batches = 2\n";
    return path.string();
  }
};

TEST_F(Select, PerturbationDecidesEveryEdgeThenEveryNodeOnTheDartsSpace) {
  const fs::path run = dir_ / "run";
  const Outcome out = run_nasx("run " + config() + " --out " + run.string());
  ASSERT_EQ(out.exit_code, 0) << out.output;
  const std::string events = read(run / "events.jsonl");
  // 14 operation decisions per cell type, then nodes 1..3 (node 0 has only two inputs).
  EXPECT_EQ(count(events, "\"type\": \"pt_operation\", \"step\": "), 28);
  EXPECT_EQ(count(events, "\"type\": \"pt_operation\", \"step\": 1, \"cell\": \"normal\""), 1);
  EXPECT_EQ(count(events, "\"type\": \"pt_topology\""), 6);
  EXPECT_EQ(count(events, "\"type\": \"select_step\""), 17);  // 1 x (17 - 1) + 1
  // `none` is no candidate on the DARTS space; each decision lists the 7 others.
  EXPECT_EQ(count(events, "\"none\":"), 0);
  EXPECT_EQ(count(events, "\"skip_connect\": "), 28);
  EXPECT_THAT(read(run / "summary.json"), HasSubstr("\"selected_by\": \"perturbation\""));
  // The answer is the decisions: per node the two kept edges, each with its decided
  // operation (edge of node n from input i: 2n + n(n-1)/2 + i, the reference's order).
  for (const std::string cell : {"normal", "reduce"}) {
    std::map<int, std::string> chosen;
    const std::regex op("\"cell\": \"" + cell +
                        "\", \"edge\": ([0-9]+), \"chosen\": \"([a-z_0-9]+)\"");
    for (std::sregex_iterator it(events.begin(), events.end(), op), end; it != end; ++it)
      chosen[std::stoi((*it)[1].str())] = (*it)[2].str();
    ASSERT_EQ(chosen.size(), 14u) << cell;
    std::map<int, std::string> kept = {{0, "[0, 1]"}};
    const std::regex node("\"cell\": \"" + cell +
                          "\", \"node\": ([0-9]), \"kept\": (\\[[0-9, ]+\\])");
    for (std::sregex_iterator it(events.begin(), events.end(), node), end; it != end; ++it)
      kept[std::stoi((*it)[1].str())] = (*it)[2].str();
    ASSERT_EQ(kept.size(), 4u) << cell;
    const std::string summary = read(run / "summary.json");
    const auto begin = summary.find("\"" + cell + "\": [[");
    ASSERT_NE(begin, std::string::npos);
    const std::string pairs = summary.substr(begin, summary.find("]]", begin) + 2 - begin);
    const std::regex pair("\\[\"([a-z_0-9]+)\", ([0-9])\\]");
    int index = 0;
    std::string expected_inputs;
    for (std::sregex_iterator it(pairs.begin(), pairs.end(), pair), end; it != end; ++it, ++index) {
      const int n = index / 2, input = std::stoi((*it)[2].str());
      const int edge = 2 * n + n * (n - 1) / 2 + input;
      EXPECT_EQ((*it)[1].str(), chosen[edge]) << cell << " edge " << edge;
      expected_inputs += (index % 2 ? ", " : "[") + std::to_string(edge) + (index % 2 ? "]" : "");
      if (index % 2) {
        EXPECT_EQ(expected_inputs, kept[n]) << cell << " node " << n;
        expected_inputs.clear();
      }
    }
    EXPECT_EQ(index, 8) << cell;
  }
  // Re-selecting the finished run's supernet by magnitude: the run's [select] settings
  // are perturbation's, so magnitude starts from its own.
  const Outcome magnitude = run_nasx("select " + run.string() + " --selector magnitude");
  ASSERT_EQ(magnitude.exit_code, 0) << magnitude.output;
  EXPECT_TRUE(fs::exists(run / "select-magnitude/genotype.txt"));
}

TEST_F(Select, PerturbationOnNb201DecidesTheSixEdgesWithNoneAsACandidate) {
  const fs::path run = dir_ / "run";
  const std::string cfg = config("name = \"nb201\"\nchannels = 4\nlayers = 1");
  const Outcome search =
      run_nasx("run " + cfg + " --set select.selector=magnitude --out " + run.string());
  // The [select] keys belong to perturbation, so the magnitude run refuses them...
  ASSERT_EQ(search.exit_code, 1);
  EXPECT_THAT(search.output, HasSubstr("for selector 'magnitude'"));
  // ...and the search runs with perturbation, then `nasx select` re-selects from it.
  ASSERT_EQ(run_nasx("run " + cfg + " --out " + run.string()).exit_code, 0);
  const Outcome again = run_nasx("select " + run.string() +
                                 " --set select.tune_epochs=2 --set select.criterion=loss");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  const std::string events = read(run / "select-perturbation/events.jsonl");
  EXPECT_EQ(count(events, "\"type\": \"pt_operation\""), 6);
  EXPECT_EQ(count(events, "\"type\": \"pt_topology\""), 0);
  EXPECT_EQ(count(events, "\"none\": "), 6);
  EXPECT_EQ(count(events, "\"criterion\": \"loss\""), 6);
  EXPECT_EQ(count(events, "\"type\": \"select_step\""), 11);  // 2 x (6 - 1) + 1
  EXPECT_THAT(read(run / "select-perturbation/genotype.txt"), HasSubstr("~0|"));
}

TEST_F(Select, KilledPerturbationSelectionResumesToTheSameDecisions) {
  const std::string cfg = config();
  const fs::path reference = dir_ / "reference", killed = dir_ / "killed";
  const Outcome full = run_nasx("run " + cfg + " --out " + reference.string());
  ASSERT_EQ(full.exit_code, 0) << full.output;

  // SIGKILL once the selection has checkpointed its 6th step (7 decisions made).
  ASSERT_TRUE(testing::run_and_kill_when("run " + cfg + " --out " + killed.string(), [&] {
    return read(killed / "events.jsonl").find("\"type\": \"select_step\", \"step\": 6,") !=
               std::string::npos &&
           fs::exists(killed / "checkpoint/select.pt");
  })) << "the run ended before it could be killed";
  ASSERT_FALSE(fs::exists(killed / "summary.json")) << "the run ended before it could be killed";

  const Outcome resumed = run_nasx("resume " + killed.string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_THAT(resumed.output, HasSubstr("resuming the selection at step"));
  EXPECT_EQ(read(killed / "genotype.txt"), read(reference / "genotype.txt"));
  const std::string decisions = decisions_of(read(reference / "events.jsonl"));
  EXPECT_EQ(count(decisions, "\n"), 34);
  // Every decision, with its measured accuracies, exactly once and as uninterrupted.
  EXPECT_EQ(decisions_of(read(killed / "events.jsonl")), decisions);
  EXPECT_EQ(count(read(killed / "events.jsonl"), "\"type\": \"select_step\""), 17);

  // The same through `nasx select`: killed, then the same command continues it.
  const std::string select = "select " + reference.string() + " --selector perturbation";
  const fs::path folder = reference / "select-perturbation";
  ASSERT_TRUE(testing::run_and_kill_when(select, [&] {
    return read(folder / "events.jsonl").find("\"type\": \"select_step\", \"step\": 4,") !=
               std::string::npos &&
           fs::exists(folder / "checkpoint/select.pt");
  }));
  ASSERT_FALSE(fs::exists(folder / "summary.json"));
  const Outcome continued = run_nasx(select);
  ASSERT_EQ(continued.exit_code, 0) << continued.output;
  EXPECT_THAT(continued.output, HasSubstr("resuming the selection at step"));
  EXPECT_EQ(read(folder / "genotype.txt"), read(reference / "genotype.txt"));
  EXPECT_EQ(decisions_of(read(folder / "events.jsonl")), decisions);
}

}  // namespace
}  // namespace nasx
