#include "perturbation/decisions.hpp"

#include <algorithm>
#include <limits>

#include <ATen/ATen.h>

#include "nasx/error.hpp"

namespace nasx {

at::Tensor effective_weights(const at::Tensor& alpha, const EdgeDecisions& decisions) {
  const int64_t edges = alpha.size(0);
  if (static_cast<int64_t>(decisions.operation.size()) != edges ||
      static_cast<int64_t>(decisions.removed.size()) != edges)
    throw Error("perturbation: decisions for " + std::to_string(decisions.operation.size()) +
                " edges but alpha has " + std::to_string(edges));
  // softmax * keep + fixed rather than writing into the softmax: its backward needs its
  // output intact, and the decided rows must pass no gradient to alpha.
  const auto cpu = at::TensorOptions().dtype(alpha.scalar_type());
  at::Tensor keep = at::ones({edges, 1}, cpu);
  at::Tensor fixed = at::zeros({edges, alpha.size(1)}, cpu);
  for (int64_t e = 0; e < edges; ++e) {
    const int64_t op = decisions.operation[static_cast<size_t>(e)];
    if (decisions.removed[static_cast<size_t>(e)] || op >= 0) keep[e] = 0.0;
    if (!decisions.removed[static_cast<size_t>(e)] && op >= 0) fixed[e][op] = 1.0;
  }
  return at::softmax(alpha, -1) * keep.to(alpha.device()) + fixed.to(alpha.device());
}

OperationDecision choose_operation(const at::Tensor& weights, int64_t edge,
                                   const std::vector<int64_t>& candidates,
                                   const std::function<double(const at::Tensor&)>& accuracy) {
  if (candidates.empty())
    throw Error("perturbation: no candidate operation for edge " + std::to_string(edge));
  OperationDecision decision;
  decision.edge = edge;
  double lowest = 0;
  for (int64_t k : candidates) {
    at::Tensor masked = weights.clone();
    masked[edge][k] = 0.0;
    const double a = accuracy(masked);
    decision.masked_accuracy.push_back({k, a});
    if (decision.chosen < 0 || a < lowest) {
      decision.chosen = k;
      lowest = a;
    }
  }
  return decision;
}

InputDecision choose_inputs(const at::Tensor& weights, const std::vector<int64_t>& edges,
                            const std::function<double(const at::Tensor&)>& accuracy) {
  // Every input judged once with only itself removed: the reference re-measures the
  // remaining ones each round with earlier drops restored, which on fixed validation
  // batches gives the same numbers.
  std::vector<double> without(edges.size());
  for (size_t i = 0; i < edges.size(); ++i) {
    at::Tensor masked = weights.clone();
    masked[edges[i]].zero_();
    without[i] = accuracy(masked);
  }
  InputDecision decision;
  decision.accuracy = std::numeric_limits<double>::quiet_NaN();
  std::vector<size_t> kept(edges.size());
  for (size_t i = 0; i < kept.size(); ++i) kept[i] = i;
  while (kept.size() > 2) {
    size_t drop = 0;  // position in `kept`; ties go to the later edge, as the reference's
    for (size_t k = 1; k < kept.size(); ++k)
      if (without[kept[k]] >= without[kept[drop]]) drop = k;
    decision.dropped.push_back(edges[kept[drop]]);
    decision.accuracy = without[kept[drop]];
    kept.erase(kept.begin() + static_cast<std::ptrdiff_t>(drop));
  }
  for (size_t i : kept) decision.kept.push_back(edges[i]);
  std::sort(decision.kept.begin(), decision.kept.end());
  return decision;
}

}  // namespace nasx
