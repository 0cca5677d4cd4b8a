#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "nasx/export.hpp"
#include "nasx/json.hpp"

namespace nasx {

/// One chosen edge of a DARTS cell: operation `op` applied to state `input`
/// (0 = s0, 1 = s1, 2.. = earlier intermediate nodes).
struct GenotypeEdge {
  std::string op;
  int input = 0;
  bool operator==(const GenotypeEdge& other) const {
    return op == other.op && input == other.input;
  }
};

/// A DARTS-space architecture: two chosen edges per intermediate node for the
/// normal and the reduction cell, and the nodes concatenated into each cell's output.
struct Genotype {
  std::vector<GenotypeEdge> normal;
  std::vector<int> normal_concat;
  std::vector<GenotypeEdge> reduce;
  std::vector<int> reduce_concat;

  bool operator==(const Genotype& other) const;
  bool operator!=(const Genotype& other) const { return !(*this == other); }

  /// The reference code's text form, concat written as a list:
  /// `Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], reduce=[...],
  /// reduce_concat=[2, 3, 4, 5])`.
  std::string str() const;

  /// Parses the text form; the concat may be a list or `range(a, b)`. Throws
  /// GenotypeError naming the column of the offending character, with the text
  /// and a caret under it. Checks operation names and that node i (0-based) takes
  /// its two inputs from states 0..i+1.
  static Genotype parse(std::string_view text);

  /// The JSON form: {"normal": [["sep_conv_3x3", 0], ...], "normal_concat": [...], ...}.
  Json json() const;
};

}  // namespace nasx
