#include "ws64/child.hpp"

#include "nasx/error.hpp"

namespace nasx::ws64 {

const std::vector<std::string>& operation_names() {
  static const std::vector<std::string> names = {"max_pool_3x3", "sep_conv_3x3", "sep_conv_5x5",
                                                 "dil_conv_5x5"};
  return names;
}

std::pair<int, int> edge_nodes(int edge) {
  static const std::pair<int, int> nodes[kEdges] = {{1, 0}, {2, 0}, {2, 1}};
  return nodes[edge];
}

std::string Child::name() const {
  std::string out;
  for (int op : ops) out += static_cast<char>('1' + op);
  return out;
}

Child Child::parse(std::string_view text) {
  const std::string quoted = "'" + std::string(text) + "'";
  if (text.size() != kEdges)
    throw GenotypeError("ws64: " + quoted +
                        " is not a child name: three digits 1..4, one per edge 1<-0, 2<-0, "
                        "2<-1 (111 ... 444)");
  Child child;
  for (int edge = 0; edge < kEdges; ++edge) {
    const char c = text[static_cast<size_t>(edge)];
    if (c < '1' || c > '4')
      throw GenotypeError("ws64: " + quoted + ", character " + std::to_string(edge + 1) + ": '" +
                          std::string(1, c) +
                          "' is not an operation digit 1..4 (1 max_pool_3x3, 2 sep_conv_3x3, "
                          "3 sep_conv_5x5, 4 dil_conv_5x5)");
    child.ops[static_cast<size_t>(edge)] = c - '1';
  }
  return child;
}

int64_t Child::index() const {
  int64_t index = 0;
  for (int op : ops) index = index * kOperations + op;
  return index;
}

Child Child::from_index(int64_t index) {
  Child child;
  for (int edge = kEdges - 1; edge >= 0; --edge) {
    child.ops[static_cast<size_t>(edge)] = static_cast<int>(index % kOperations);
    index /= kOperations;
  }
  return child;
}

}  // namespace nasx::ws64
