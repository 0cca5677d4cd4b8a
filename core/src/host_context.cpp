#include "nasx/core/host_context.hpp"

#include <atomic>
#include <cmath>
#include <sstream>

#include "nasx/core/files.hpp"
#include "nasx/core/json.hpp"
#include "nasx/core/progress.hpp"
#include "nasx/distributed.hpp"
#include "nasx/metrics.hpp"
#include "nasx/space.hpp"

namespace nasx::core {

namespace {
std::atomic<bool> g_stop_requested{false};  // set from a signal handler
}  // namespace

void request_stop() { g_stop_requested.store(true); }
bool stop_was_requested() { return g_stop_requested.load(); }

bool HostContext::stop_requested() const {
  Communicator* ranks = communicator();
  if (ranks == nullptr) return stop_was_requested();
  std::vector<at::Tensor> flag = {at::full({1}, stop_was_requested() ? 1.0 : 0.0, at::kFloat)};
  ranks->all_reduce_sum(flag);
  return flag[0].item<float>() > 0;
}

void check_finite(const std::map<std::string, double>& metrics, const std::string& where,
                  const RunPaths& paths) {
  for (const auto& [name, value] : metrics) {
    if (std::isfinite(value)) continue;
    throw NonFiniteError("training diverged: " + name + " is " +
                         (std::isnan(value) ? "NaN" : "infinite") + " " + where +
                         ". Nothing final was written; " + paths.dir.string() +
                         " keeps the log and the checkpoint of the last completed step, if any. "
                         "Lower the learning rates in [search] (or check the data), then start "
                         "a new run");
  }
}

HostContext::HostContext(const SearchSpace& space, Supernet& net, const DataSplits& data,
                         const RunConfig& config, c10::Device device, Progress& progress,
                         JsonlLog& events, JsonlLog& evaluations, Evaluator& evaluator,
                         const RunPaths& paths,
                         std::function<std::unique_ptr<Evaluator>()> make_scorer)
    : space_(space),
      net_(net),
      data_(data),
      config_(config),
      device_(device),
      progress_(progress),
      events_(events),
      evaluations_(evaluations),
      evaluator_(evaluator),
      paths_(paths),
      make_scorer_(std::move(make_scorer)) {}

void HostContext::report_progress(int64_t done, int64_t total, const MetricsMeter& meter) {
  if (stop_was_requested()) throw StopRequested("stopped by request");
  // Read the device-side metrics at least every ~5% of a step, so a NaN is caught
  // early even when the display refreshes less often.
  const bool check_now = total <= 20 || done % std::max<int64_t>(1, total / 20) == 0;
  const bool show_now = progress_.due(done, total);
  if (!check_now && !show_now) return;
  const auto metrics = meter.means();
  check_finite(metrics,
               "at step " + std::to_string(step_ + 1) + ", minibatch " + std::to_string(done) +
                   "/" + std::to_string(total),
               paths_);
  if (show_now) progress_.update(done, total, metrics);
}

void HostContext::append(JsonlLog& log, const std::string& line) {
  if (holding_)
    held_.emplace_back(&log, line);
  else
    log.append(line);
}

void HostContext::write_held_lines() {
  holding_ = false;
  for (const auto& [log, line] : held_) log->append(line);
  held_.clear();
}

void HostContext::log_event(const std::string& type, const Json& fields) {
  if (!fields.is_object() && !fields.is_null())
    throw Error("log_event(\"" + type + "\"): the fields must be a JSON object, not " +
                fields.type_name());
  JsonObject event;
  event.add("type", type).add("step", step_ + 1);  // from 1, as the console counts
  if (fields.is_object())
    for (const auto& [key, value] : fields.items()) event.add(key, value);
  append(events_, event.str());
}

Evaluation HostContext::evaluate(const Architecture& arch) { return measure(evaluator_, arch); }

Evaluation HostContext::score(const Architecture& arch) {
  if (!scorer_) {
    if (!make_scorer_) throw Error("this run has no scorer");
    scorer_ = make_scorer_();
  }
  return measure(*scorer_, arch);
}

std::vector<Evaluation> HostContext::evaluate_all(const std::vector<Architecture>& archs) {
  if (!evaluator_.measures_together()) {  // one by one: a stop request between them
    std::vector<Evaluation> results;
    for (const Architecture& arch : archs) results.push_back(measure(evaluator_, arch));
    return results;
  }
  if (stop_was_requested()) throw StopRequested("stopped by request");
  const std::vector<Evaluation> results = evaluator_.evaluate_all(archs);
  if (results.size() != archs.size())
    throw Error("the " + evaluator_.name() + " evaluator gave " + std::to_string(results.size()) +
                " measurements for " + std::to_string(archs.size()) + " architectures");
  for (size_t i = 0; i < archs.size(); ++i) log_measurement(evaluator_, archs[i], results[i]);
  return results;
}

Evaluation HostContext::measure(Evaluator& evaluator, const Architecture& arch) {
  if (stop_was_requested()) throw StopRequested("stopped by request");
  const Evaluation result = evaluator.evaluate(arch);
  log_measurement(evaluator, arch, result);
  return result;
}

void HostContext::log_measurement(const Evaluator& evaluator, const Architecture& arch,
                                  const Evaluation& result) {
  // One candidate whose training diverged is a bad candidate, not a failed search:
  // its accuracy stands (near chance) and its loss is logged as null. A score of
  // -infinity (a singular NASWOT kernel) is logged as null too.
  JsonObject line;
  line.add("step", step_ + 1).add("evaluator", evaluator.name()).add("arch", space_.format(arch));
  line.add(result.is_score ? "score" : "accuracy", result.accuracy);
  if (result.is_score)
    ;  // a score has no loss
  else if (std::isfinite(result.loss))
    line.add("loss", result.loss);
  else
    line.add("loss", nullptr);
  append(evaluations_, line.add("seconds", result.seconds).str());
  evaluation_seconds_ += result.seconds;
}

double logged_evaluation_seconds(const std::filesystem::path& evaluations) {
  std::istringstream in(read_text_file(evaluations));
  double total = 0;
  for (std::string line; std::getline(in, line);)
    total += number_member(parse_json_or_empty(line), "seconds").value_or(0);
  return total;
}

void HostContext::info(const std::string& message) { progress_.line(message); }

}  // namespace nasx::core
