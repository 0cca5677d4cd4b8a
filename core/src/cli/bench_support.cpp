#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <sstream>

#include "bench.hpp"
#include "memory_profile.hpp"
#include "nasx/core/process.hpp"
#include "nasx/error.hpp"
#include "op_profile.hpp"

#if defined(NASX_WITH_CUDA)
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace fs = std::filesystem;

namespace nasx::cli::bench {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void synchronize(const c10::Device& device) {
#if defined(NASX_WITH_CUDA)
  if (device.is_cuda()) c10::cuda::device_synchronize();
#else
  (void)device;
#endif
}

double peak_mb(const c10::Device& device) {
#if defined(NASX_WITH_CUDA)
  if (device.is_cuda()) {
    const auto stats =
        c10::cuda::CUDACachingAllocator::getDeviceStats(device.index() < 0 ? 0 : device.index());
    return static_cast<double>(stats.allocated_bytes[0].peak) / (1024.0 * 1024.0);
  }
#else
  (void)device;
#endif
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

void reset_peak(const c10::Device& device) {
#if defined(NASX_WITH_CUDA)
  if (device.is_cuda())
    c10::cuda::CUDACachingAllocator::resetPeakStats(device.index() < 0 ? 0 : device.index());
#else
  (void)device;
#endif
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

Timing time_units(const std::function<void()>& unit, const Setup& setup) {
  // From the warm-up on, so that what the first steps allocate and keep (gradients,
  // optimiser state) is counted too.
  std::optional<MemoryProfile> memory;
  if (setup.profile_memory) memory.emplace(setup.profile_shapes);
  for (int64_t i = 0; i < setup.warmup; ++i) unit();
  synchronize(setup.device);
  std::vector<double> seconds;
  std::optional<OpProfile> profile;
  if (setup.profile) profile.emplace(setup.profile_shapes);
  for (int64_t i = 0; i < setup.steps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    unit();
    synchronize(setup.device);
    seconds.push_back(seconds_since(start));
  }
  if (profile) profile->print(std::cout, setup.steps, setup.profile_rows);
  if (memory) memory->print(std::cout, setup.profile_rows);
  Timing timing;
  timing.seconds = median(seconds);
  timing.best = *std::min_element(seconds.begin(), seconds.end());
  timing.mean =
      std::accumulate(seconds.begin(), seconds.end(), 0.0) / static_cast<double>(seconds.size());
  timing.peak_mb = peak_mb(setup.device);
  return timing;
}

namespace {

/// The key=value words of a line ("median_s=2.41 peak_rss_mib=1702").
std::map<std::string, std::string> key_values(const std::string& line) {
  std::map<std::string, std::string> values;
  std::istringstream words(line);
  for (std::string word; words >> word;) {
    const auto eq = word.find('=');
    if (eq != std::string::npos) values[word.substr(0, eq)] = word.substr(eq + 1);
  }
  return values;
}

std::string last_line(const std::string& text) {
  std::istringstream lines(text);
  std::string last;
  for (std::string line; std::getline(lines, line);)
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  return last;
}

}  // namespace

std::string figures_line(const Timing& timing, const c10::Device& device) {
  std::ostringstream line;
  line << std::fixed << std::setprecision(5) << "median_s=" << timing.seconds
       << " min_s=" << timing.best << " mean_s=" << timing.mean << std::setprecision(0)
       << (device.is_cuda() ? " peak_cuda_mib=" : " peak_rss_mib=") << timing.peak_mb;
  if (timing.graph_vs_eager >= 0)
    line << std::scientific << std::setprecision(2) << " graph_vs_eager=" << timing.graph_vs_eager
         << " graph_update_vs_eager=" << timing.graph_update_vs_eager;
  return line.str();
}

Timing run_measurement(const std::vector<std::string>& argv, const std::string& seconds_key,
                       const std::string& what) {
  const core::CommandOutput out = core::run_and_capture(argv);
  std::string command;
  for (const auto& word : argv) command += (command.empty() ? "" : " ") + core::shell_quote(word);
  if (!out.started) throw Error("bench: cannot run " + what + ": " + command);
  const auto figures = key_values(last_line(out.output));
  const auto seconds = figures.find(seconds_key);
  if (out.exit_code != 0)
    throw Error("bench: " + what + " failed (exit " + std::to_string(out.exit_code) +
                "): " + command + "\n" + out.output);
  if (seconds == figures.end())
    throw Error("bench: " + what + " printed no " + seconds_key + "= figure on its last line (" +
                command + "); is it a nasx executable, or the reference script asked for?\n" +
                out.output);
  Timing timing;
  timing.seconds = std::stod(seconds->second);
  if (const auto best = figures.find("min_s"); best != figures.end())
    timing.best = std::stod(best->second);
  if (const auto mean = figures.find("mean_s"); mean != figures.end())
    timing.mean = std::stod(mean->second);
  if (const auto graph = figures.find("graph_vs_eager"); graph != figures.end())
    timing.graph_vs_eager = std::stod(graph->second);
  if (const auto update = figures.find("graph_update_vs_eager"); update != figures.end())
    timing.graph_update_vs_eager = std::stod(update->second);
  for (const char* key : {"peak_rss_mib", "peak_cuda_mib"})
    if (const auto peak = figures.find(key); peak != figures.end())
      timing.peak_mb = std::stod(peak->second);
  return timing;
}

Timing run_baseline(const Setup& setup, const std::string& script, std::vector<std::string> args,
                    const std::string& seconds_key) {
  const fs::path path = fs::path(setup.baseline_dir) / script;
  if (!fs::exists(path))
    throw ConfigError("bench: no baseline " + path.string() +
                      " (--baseline names the folder of the reference scripts: "
                      "ref_darts_step.py, ref_train_step.py, ref_naswot_score.py)");
  std::vector<std::string> argv = {setup.python, path.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_measurement(argv, seconds_key, "the baseline " + script);
}

void compare(const std::string& title, const std::vector<Contender>& contenders, const Setup& setup,
             const std::string& unit) {
  const size_t n = contenders.size();
  const int rounds = std::max(1, setup.rounds);
  std::cout << "\n"
            << title << "  (" << unit << ", median of " << setup.steps << " after " << setup.warmup
            << " warm-up; " << rounds << " round" << (rounds > 1 ? "s" : "")
            << ", contenders alternating)\n";
  // Columns as wide as the longest name (and a figure) needs.
  int width = 12;
  for (const Contender& c : contenders)
    width = std::max(width, static_cast<int>(c.name.size()) + 2);
  std::cout << std::left << std::setw(8) << "round";
  for (const Contender& c : contenders) std::cout << std::setw(width) << c.name;
  std::cout << "\n" << std::flush;
  std::vector<std::vector<Timing>> timings(n);
  for (int round = 0; round < rounds; ++round) {
    // Rotate who goes first, so a drift of the machine does not favour one contender.
    std::vector<Timing> this_round(n);
    for (size_t k = 0; k < n; ++k) {
      const size_t i = (k + static_cast<size_t>(round)) % n;
      this_round[i] = contenders[i].measure();
    }
    std::cout << std::left << std::setw(8) << round + 1;
    for (size_t i = 0; i < n; ++i) {
      timings[i].push_back(this_round[i]);
      std::ostringstream cell;
      cell << std::fixed << std::setprecision(4) << this_round[i].seconds;
      std::cout << std::setw(width) << cell.str();
    }
    std::cout << "\n" << std::flush;
  }
  auto row = [&](const std::string& name, const std::function<std::string(size_t)>& cell) {
    std::cout << std::left << std::setw(8) << name;
    for (size_t i = 0; i < n; ++i) std::cout << std::setw(width) << cell(i);
    std::cout << "\n";
  };
  auto fixed = [](double v, int digits) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(digits) << v;
    return s.str();
  };
  std::vector<double> medians(n), peaks(n);
  for (size_t i = 0; i < n; ++i) {
    std::vector<double> s, p;
    for (const Timing& t : timings[i]) {
      s.push_back(t.seconds);
      p.push_back(t.peak_mb);
    }
    medians[i] = median(s);
    peaks[i] = *std::max_element(p.begin(), p.end());
  }
  // "1.23x<what> (rounds: 1.20, 1.23, 1.31)": contender a's time over b's, round by
  // round, and their median.
  auto ratios_text = [&](size_t a, size_t b, int digits, const std::string& what) {
    std::vector<double> ratios;
    for (int r = 0; r < rounds; ++r)
      ratios.push_back(timings[a][static_cast<size_t>(r)].seconds /
                       timings[b][static_cast<size_t>(r)].seconds);
    std::string text = fixed(median(ratios), digits) + "x" + what + " (rounds: ";
    for (size_t r = 0; r < ratios.size(); ++r) text += (r ? ", " : "") + fixed(ratios[r], digits);
    return text + ")";
  };
  row("median", [&](size_t i) { return fixed(medians[i], 4); });
  row("peak MB", [&](size_t i) { return peaks[i] > 0 ? fixed(peaks[i], 0) : std::string("-"); });
  // The contender named `name` (a relative_to or speedup_over).
  auto index_of = [&](const std::string& name) {
    const auto j =
        static_cast<size_t>(std::find_if(contenders.begin(), contenders.end(),
                                         [&](const Contender& c) { return c.name == name; }) -
                            contenders.begin());
    if (j == n) throw Error("bench: no contender '" + name + "'");
    return j;
  };
  auto print_speedup = [&](size_t i, size_t over) {
    std::cout << "  " << contenders[i].name << " over " << contenders[over].name << ": speed-up "
              << ratios_text(over, i, 2, "");
    if (peaks[i] > 0 && peaks[over] > 0)
      std::cout << ", peak memory " << fixed(peaks[i] / peaks[over], 2) << "x";
    std::cout << "\n";
  };
  // Over the references of its own build (two builds meet only in speedup_over).
  for (size_t i = 0; i < n; ++i) {
    if (contenders[i].reference) continue;
    for (size_t j = 0; j < n; ++j)
      if (contenders[j].reference && contenders[j].build.path == contenders[i].build.path)
        print_speedup(i, j);
  }
  for (size_t i = 0; i < n; ++i)
    for (const std::string& other : contenders[i].speedup_over) print_speedup(i, index_of(other));
  for (size_t i = 0; i < n; ++i) {
    double losses = -1, updates = -1;
    for (const Timing& t : timings[i]) {
      losses = std::max(losses, t.graph_vs_eager);
      updates = std::max(updates, t.graph_update_vs_eager);
    }
    if (losses < 0) continue;
    // A GPU's sums come in varying orders: about 1e-6 on a loss, and on an update (a norm
    // over all its values) not much more. A wrong capture (a frozen input, an update left
    // out or computed from stale moments) differs by a step's change of the loss (a
    // percent here), or by the whole update.
    const bool same = losses < 1e-3 && updates < 1e-2;
    std::cout << "  " << contenders[i].name
              << ": its first replays against a twin's eager steps from the same state: losses "
                 "differ by at most "
              << std::scientific << std::setprecision(2) << losses
              << ", the first step's updates by " << updates << std::defaultfloat
              << " (relative; the largest over rounds)"
              << (same ? "" : ": NOT THE SAME STEP, its times mean nothing") << "\n";
  }
  for (size_t i = 0; i < n; ++i) {
    if (contenders[i].relative_to.empty()) continue;
    const size_t j = index_of(contenders[i].relative_to);
    std::cout << "  " << contenders[i].name << " against " << contenders[j].name << ": "
              << ratios_text(i, j, 3, " the time") << "\n";
  }
  std::cout << std::flush;
}

}  // namespace nasx::cli::bench
