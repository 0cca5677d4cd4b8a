#pragma once
/// One child of the 64-child space of "Deeper Insights into Weight Sharing in Neural
/// Architecture Search" (Zhang et al., 2020): a cell with one input node x0 and two
/// intermediate nodes, densely connected by the edges 1<-0, 2<-0, 2<-1, each edge one of
/// 4 operations (no `none`, no skip). A child is named by three digits 1..4, one per
/// edge in that order: `111` ... `444`.

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace nasx::ws64 {

constexpr int kEdges = 3;
constexpr int kOperations = 4;
constexpr int64_t kChildren = 64;  ///< 4^3

/// The operations in digit order (digit 1 is max_pool_3x3): max_pool_3x3, sep_conv_3x3,
/// sep_conv_5x5, dil_conv_5x5 (the reference code's; the paper's text says a 3x3
/// dilated convolution).
const std::vector<std::string>& operation_names();

/// (target node, source node) of edge `edge`: (1, 0), (2, 0), (2, 1).
std::pair<int, int> edge_nodes(int edge);

struct Child {
  std::array<int, kEdges> ops{};  ///< operation index 0..3 of each edge

  bool operator==(const Child& other) const { return ops == other.ops; }

  /// The three digits, e.g. "424".
  std::string name() const;
  /// From three digits 1..4; throws GenotypeError naming the offending character.
  static Child parse(std::string_view text);

  /// 0..63 in name order (111 is 0, 444 is 63), and back.
  int64_t index() const;
  static Child from_index(int64_t index);
};

}  // namespace nasx::ws64
