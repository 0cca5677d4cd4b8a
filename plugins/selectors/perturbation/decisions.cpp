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
  InputDecision decision;
  decision.kept = edges;
  decision.accuracy = std::numeric_limits<double>::quiet_NaN();
  at::Tensor current = weights.clone();
  while (decision.kept.size() > 2) {
    int64_t drop = -1;
    double highest = 0;
    for (int64_t e : decision.kept) {
      at::Tensor masked = current.clone();
      masked[e].zero_();
      const double a = accuracy(masked);
      if (drop < 0 || a > highest) {
        drop = e;
        highest = a;
      }
    }
    current[drop].zero_();
    decision.kept.erase(std::find(decision.kept.begin(), decision.kept.end(), drop));
    decision.dropped.push_back(drop);
    decision.accuracy = highest;
  }
  std::sort(decision.kept.begin(), decision.kept.end());
  return decision;
}

}  // namespace nasx
