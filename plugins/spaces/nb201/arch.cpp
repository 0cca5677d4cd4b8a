#include "nb201/arch.hpp"

#include <sstream>

#include "nasx/error.hpp"

namespace nasx::nb201 {

namespace {

[[noreturn]] void fail(std::string_view text, size_t at, const std::string& what) {
  std::ostringstream out;
  out << "NAS-Bench-201 arch string, column " << at + 1 << ": " << what << "\n  " << text << "\n  "
      << std::string(at, ' ') << "^\n"
      << "expected |op~0|+|op~0|op~1|+|op~0|op~1|op~2| with op one of none, skip_connect, "
         "nor_conv_1x1, nor_conv_3x3, avg_pool_3x3";
  throw GenotypeError(out.str());
}

int operation_index(const std::string& name) {
  const auto& names = operation_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<int>(i);
  return -1;
}

}  // namespace

const std::vector<std::string>& operation_names() {
  static const std::vector<std::string> names = {"none", "skip_connect", "nor_conv_1x1",
                                                 "nor_conv_3x3", "avg_pool_3x3"};
  return names;
}

std::pair<int, int> edge_nodes(int edge) {
  static const std::array<std::pair<int, int>, kEdges> nodes = {
      {{1, 0}, {2, 0}, {2, 1}, {3, 0}, {3, 1}, {3, 2}}};
  return nodes.at(static_cast<size_t>(edge));
}

std::string Arch::str() const {
  std::string text;
  int edge = 0;
  for (int node = 1; node <= 3; ++node) {
    if (node > 1) text += '+';
    text += '|';
    for (int source = 0; source < node; ++source, ++edge)
      text +=
          operation_names()[static_cast<size_t>(ops[edge])] + "~" + std::to_string(source) + "|";
  }
  return text;
}

Arch Arch::parse(std::string_view text) {
  Arch arch;
  size_t pos = 0;
  int edge = 0;
  for (int node = 1; node <= 3; ++node) {
    if (node > 1) {
      if (pos >= text.size() || text[pos] != '+')
        fail(text, pos,
             node == 2 || pos < text.size()
                 ? "expected '+' before the group of node " + std::to_string(node)
                 : "the string ends after " + std::to_string(node - 1) +
                       " groups; it needs 3 (nodes 1, 2, 3)");
      ++pos;
    }
    if (pos >= text.size() || text[pos] != '|')
      fail(text, pos, "expected '|' opening the group of node " + std::to_string(node));
    ++pos;
    for (int source = 0; source < node; ++source, ++edge) {
      const size_t start = pos;
      const size_t end = text.find('|', pos);
      if (end == std::string_view::npos) fail(text, text.size(), "missing '|' after a token");
      const std::string token(text.substr(start, end - start));
      const size_t tilde = token.find('~');
      if (tilde == std::string::npos) fail(text, start, "token '" + token + "' is not op~source");
      const std::string op = token.substr(0, tilde);
      const int index = operation_index(op);
      if (index < 0) fail(text, start, "unknown operation '" + op + "'");
      const std::string source_text = token.substr(tilde + 1);
      if (source_text != std::to_string(source)) {
        const bool numeric = !source_text.empty() &&
                             source_text.find_first_not_of("0123456789") == std::string::npos;
        fail(text, start + tilde + 1,
             // a number of more digits than an int holds is out of range too
             numeric && (source_text.size() > 4 || std::stoi(source_text) >= node)
                 ? "node " + std::to_string(node) + " cannot take input from node " + source_text +
                       " (sources are 0.." + std::to_string(node - 1) + ")"
                 : "expected source " + std::to_string(source) + " for token " +
                       std::to_string(source + 1) + " of node " + std::to_string(node) +
                       ", found '" + source_text + "'");
      }
      arch.ops[static_cast<size_t>(edge)] = index;
      pos = end + 1;
    }
  }
  if (pos != text.size())
    fail(text, pos,
         text[pos] == '+' ? "more than 3 groups; the cell has nodes 1, 2, 3 only"
                          : "unexpected text after the last group");
  return arch;
}

int64_t Arch::index() const {
  int64_t value = 0;
  for (int op : ops) value = value * kOperations + op;
  return value;
}

Arch Arch::from_index(int64_t index) {
  if (index < 0 || index >= kCells)
    throw GenotypeError("NAS-Bench-201 cell index " + std::to_string(index) + " out of range 0.." +
                        std::to_string(kCells - 1));
  Arch arch;
  for (int edge = kEdges - 1; edge >= 0; --edge) {
    arch.ops[static_cast<size_t>(edge)] = static_cast<int>(index % kOperations);
    index /= kOperations;
  }
  return arch;
}

std::vector<Arch> Arch::enumerate() {
  std::vector<Arch> all;
  all.reserve(kCells);
  for (int64_t i = 0; i < kCells; ++i) all.push_back(from_index(i));
  return all;
}

Arch Arch::sample(std::mt19937_64& rng) {
  std::uniform_int_distribution<int64_t> pick(0, kCells - 1);
  return from_index(pick(rng));
}

std::vector<Arch> Arch::neighbours() const {
  std::vector<Arch> result;
  result.reserve(kEdges * (kOperations - 1));
  for (size_t edge = 0; edge < kEdges; ++edge)
    for (int op = 0; op < kOperations; ++op) {
      if (op == ops[edge]) continue;
      Arch neighbour = *this;
      neighbour.ops[edge] = op;
      result.push_back(neighbour);
    }
  return result;
}

Arch Arch::mutate(std::mt19937_64& rng) const {
  const auto all = neighbours();
  std::uniform_int_distribution<size_t> pick(0, all.size() - 1);
  return all[pick(rng)];
}

}  // namespace nasx::nb201
