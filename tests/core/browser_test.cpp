// Report pages as a reader sees them: each page loaded in headless Chromium (Debian's
// chromium, which tools/setup --tests installs), failing on an image that does not load
// or a script error.

#include <filesystem>
#include <fstream>
#include <regex>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/nasx_process.hpp"
#include "core/tiny_config.hpp"

namespace nasx {
namespace {

using ::testing::HasSubstr;
using testing::Outcome;
using testing::read;
using testing::run_nasx;
using testing::run_shell;
namespace fs = std::filesystem;

/// Runs before anything of the page: records failed resources and script errors, and
/// after the load writes what it saw into the DOM that --dump-dom prints.
const char* const kChecker = R"js(<script>
window.nasxErrors = [];
window.addEventListener('error', function (e) {
  var t = e.target;
  window.nasxErrors.push(t && t.getAttribute ? 'resource ' + (t.getAttribute('src') || t.getAttribute('href'))
                                             : 'script ' + e.message);
}, true);
window.addEventListener('load', function () {
  var bad = [];
  for (var i = 0; i < document.images.length; ++i) {
    var img = document.images[i];
    if (!img.complete || img.naturalWidth === 0) bad.push(img.getAttribute('src'));
  }
  var out = document.createElement('pre');
  out.id = 'nasx-check';
  out.textContent = 'CHECK images=' + document.images.length + ' broken=[' + bad.join(' ') +
                    '] errors=[' + window.nasxErrors.join(' ') + ']';
  document.body.appendChild(out);
});
</script>)js";

struct BrowserCheck {
  int images = -1;
  std::string broken, errors, output;
};

/// Loads `page` (with the checker added at the top of its head, in a copy beside it so
/// relative paths resolve) in headless Chromium.
BrowserCheck load_in_chromium(const fs::path& page, const std::string& extra_body = "") {
  std::string html = read(page);
  html.insert(html.find("<head>") + 6, kChecker);
  if (!extra_body.empty()) html.insert(html.find("</body>"), extra_body);
  const fs::path copy = page.parent_path() / "checked-by-test.html";
  std::ofstream(copy) << html;
  const fs::path profile = page.parent_path().parent_path() / "chromium-profile";
  const Outcome browser = run_shell(
      "HOME=" + profile.string() + " timeout 120 chromium --headless --no-sandbox --disable-gpu "
      "--no-first-run --disable-dev-shm-usage --user-data-dir=" + profile.string() + " "
      "--allow-file-access-from-files --virtual-time-budget=10000 --dump-dom 'file://" +
      fs::absolute(copy).string() + "' 2>/dev/null");
  fs::remove(copy);
  fs::remove_all(profile);
  BrowserCheck check;
  check.output = browser.output;
  std::smatch match;
  if (std::regex_search(browser.output, match,
                        std::regex("CHECK images=(\\d+) broken=\\[([^\\]]*)\\] errors=\\[([^\\]]*)\\]"))) {
    check.images = std::stoi(match[1]);
    check.broken = match[2];
    check.errors = match[3];
  }
  return check;
}

class Browser : public testing::FolderTest {
 protected:
  void SetUp() override {
    FolderTest::SetUp();
    ASSERT_EQ(run_shell("command -v chromium").exit_code, 0)
        << "chromium is not installed: tools/setup --tests installs it (apt-get install "
           "chromium)";
  }

  void expect_clean(const fs::path& page, int at_least_images) {
    SCOPED_TRACE(page.string());
    ASSERT_TRUE(fs::exists(page));
    const BrowserCheck check = load_in_chromium(page);
    ASSERT_GE(check.images, 0) << "the page did not finish loading:\n" << check.output;
    EXPECT_GE(check.images, at_least_images);
    EXPECT_EQ(check.broken, "");
    EXPECT_EQ(check.errors, "");
  }
};

TEST_F(Browser, TheCheckCatchesAMissingImageAndAScriptError) {
  // The test's own control: a page with a missing figure and a throwing script fails it.
  fs::create_directories(dir_ / "page");
  std::ofstream(dir_ / "page/index.html")
      << "<!DOCTYPE html><html><head><title>t</title></head><body><p>x</p></body></html>";
  const BrowserCheck check = load_in_chromium(
      dir_ / "page/index.html",
      "<img src=\"missing.svg\"><script>undefinedFunction();</script>");
  ASSERT_EQ(check.images, 1) << check.output;
  EXPECT_THAT(check.broken, HasSubstr("missing.svg"));
  EXPECT_THAT(check.errors, HasSubstr("undefinedFunction"));
}

TEST_F(Browser, RunTrainingAndSweepPagesLoadWithEveryImageAndNoScriptError) {
  // A DARTS search with its final training, an NB201 sampling search, a `nasx train`
  // folder and a sweep of two trials.
  std::ofstream(dir_ / "darts.toml")
      << testing::tiny_search_config("epochs = 2\n\n[train]\nepochs = 1\nchannels = 4\n"
                                     "layers = 3\nbatch_size = 32\n");
  Outcome out = run_nasx("run " + (dir_ / "darts.toml").string() + " --out " +
                         (dir_ / "darts").string());
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_THAT(out.output, HasSubstr("report: " + (dir_ / "darts/report/index.html").string()));
  std::ofstream(dir_ / "nb201.toml")
      << testing::tiny_search_config("\n[train]\nepochs = 1\nchannels = 4\nlayers = 1\n"
                                     "batch_size = 32\n");
  const std::string nb201 =
      " --set search.strategy=random --set space.name=nb201 --set space.layers=1 "
      "--set search.supernet_epochs=1 --set search.candidates=4 "
      "--set search.evaluations_per_step=2";
  out = run_nasx("run " + (dir_ / "nb201.toml").string() + " --out " + (dir_ / "nb201").string() +
                 nb201);
  ASSERT_EQ(out.exit_code, 0) << out.output;
  out = run_nasx("train '|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|"
                 "nor_conv_3x3~2|' --config " + (dir_ / "nb201.toml").string() +
                 " --set space.name=nb201 --out " + (dir_ / "train").string());
  ASSERT_EQ(out.exit_code, 0) << out.output;
  std::ofstream(dir_ / "sweep.toml")
      << "[sweep]\nname = \"s\"\nbase = \"darts.toml\"\nseeds = [0, 1]\noutput_dir = \""
      << (dir_ / "sweeps").string() << "\"\n\n[grid]\n\"search.epochs\" = [1]\n";
  out = run_nasx("sweep " + (dir_ / "sweep.toml").string());
  ASSERT_EQ(out.exit_code, 0) << out.output;

  for (const char* folder : {"nb201", "train"})
    ASSERT_EQ(run_nasx(std::string("report ") + (dir_ / folder).string()).exit_code, 0) << folder;
  expect_clean(dir_ / "darts/report/index.html", 10);
  expect_clean(dir_ / "nb201/report/index.html", 5);
  expect_clean(dir_ / "train/report/index.html", 3);
  const fs::path sweep_page = dir_ / "sweeps/s/report/index.html";
  expect_clean(sweep_page, 1);
  // Each trial's row links its own report, which loads as well.
  const std::string sweep_html = read(sweep_page);
  int trials = 0;
  for (const auto& entry : fs::directory_iterator(dir_ / "sweeps/s")) {
    const std::string trial = entry.path().filename().string();
    if (trial.find("_seed") == std::string::npos) continue;
    ++trials;
    EXPECT_THAT(sweep_html, HasSubstr("../" + trial + "/report/index.html"));
    expect_clean(entry.path() / "report/index.html", 5);
  }
  EXPECT_EQ(trials, 2);
}

}  // namespace
}  // namespace nasx
