#include "darts/genotype.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nasx/error.hpp"

namespace nasx {
namespace {

using ::testing::HasSubstr;

// The reference's DARTS_V2 cell (quark0/darts, genotypes.py), as logs print it.
constexpr const char* kDartsV2 =
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
    "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
    "('dil_conv_3x3', 2)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), "
    "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=range(2, 6))";

std::string message_of(const std::string& text) {
  try {
    Genotype::parse(text);
  } catch (const GenotypeError& e) {
    return e.what();
  }
  return "(parsed)";
}

TEST(Genotype, ParsesTheReferenceFormWithRangeConcat) {
  const Genotype g = Genotype::parse(kDartsV2);
  ASSERT_EQ(g.normal.size(), 8u);
  EXPECT_EQ(g.normal[0], (GenotypeEdge{"sep_conv_3x3", 0}));
  EXPECT_EQ(g.normal[7], (GenotypeEdge{"dil_conv_3x3", 2}));
  EXPECT_EQ(g.reduce[2], (GenotypeEdge{"skip_connect", 2}));
  EXPECT_EQ(g.normal_concat, (std::vector<int>{2, 3, 4, 5}));
  EXPECT_EQ(g.reduce_concat, (std::vector<int>{2, 3, 4, 5}));
}

TEST(Genotype, TextRoundTripsAndListConcatParsesTheSame) {
  const Genotype g = Genotype::parse(kDartsV2);
  const std::string text = g.str();
  EXPECT_THAT(text, HasSubstr("normal_concat=[2, 3, 4, 5]"));
  EXPECT_EQ(Genotype::parse(text), g);
  EXPECT_EQ(Genotype::parse(text).str(), text);
}

TEST(Genotype, AcceptsDoubleQuotesWhitespaceAndTrailingCommas) {
  const std::string text =
      "Genotype( normal = [(\"sep_conv_5x5\",1),('max_pool_3x3',0),('avg_pool_3x3',2),"
      "('skip_connect',0),('dil_conv_5x5',3),('sep_conv_3x3',1),('sep_conv_3x3',4),"
      "('sep_conv_3x3',0),] ,normal_concat=[2,3,4,5], reduce=[('sep_conv_5x5',1),"
      "('max_pool_3x3',0),('avg_pool_3x3',2),('skip_connect',0),('dil_conv_5x5',3),"
      "('sep_conv_3x3',1),('sep_conv_3x3',4),('sep_conv_3x3',0)], reduce_concat=range(2,6),)";
  const Genotype g = Genotype::parse(text);
  EXPECT_EQ(g.normal[0], (GenotypeEdge{"sep_conv_5x5", 1}));
  EXPECT_EQ(Genotype::parse(g.str()), g);
}

TEST(Genotype, RejectsMalformedTextPointingAtTheColumn) {
  // Missing comma between the op and its input: the '0' at column 34.
  const std::string text = "Genotype(normal=[('sep_conv_3x3' 0)])";
  const std::string message = message_of(text);
  EXPECT_THAT(message, HasSubstr("column 34"));
  EXPECT_THAT(message, HasSubstr("expected ','"));
  EXPECT_THAT(message, HasSubstr("\n  " + text + "\n  " + std::string(33, ' ') + "^"));
}

TEST(Genotype, RejectsWrongNamesCountsAndInputs) {
  std::string unknown = kDartsV2;
  unknown.replace(unknown.find("dil_conv_3x3"), 12, "conv_7x7_abc");
  EXPECT_THAT(message_of(unknown), HasSubstr("'conv_7x7_abc' is not an operation"));

  std::string bad_input = kDartsV2;
  bad_input.replace(bad_input.find("('dil_conv_3x3', 2)"), 19, "('dil_conv_3x3', 7)");
  EXPECT_THAT(message_of(bad_input),
              HasSubstr("node 3 of the normal cell can only take input 0..4"));

  std::string short_cell = kDartsV2;
  short_cell.replace(short_cell.find(", ('dil_conv_3x3', 2)"), 21, "");
  EXPECT_THAT(message_of(short_cell), HasSubstr("has 7 edges"));

  EXPECT_THAT(message_of("Genotipe(normal=[])"), HasSubstr("column 1: expected 'Genotype'"));
  EXPECT_THAT(message_of(std::string(kDartsV2) + " extra"), HasSubstr("unexpected text"));
  EXPECT_THAT(message_of("Genotype(normal=[('sep_conv_3x3', 0"),
              HasSubstr("found the end of the text"));
  std::string bad_concat = kDartsV2;
  bad_concat.replace(bad_concat.find("normal_concat=range(2, 6)"), 25, "normal_concat=range[2, 6]");
  EXPECT_THAT(message_of(bad_concat), HasSubstr("expected '('"));
}

TEST(Genotype, JsonListsEveryEdge) {
  const Genotype g = Genotype::parse(kDartsV2);
  const Json json = g.json();
  ASSERT_EQ(json["normal"].size(), 8u);
  EXPECT_EQ(json["normal"][0], Json::array({"sep_conv_3x3", 0}));
  EXPECT_EQ(json["normal"][1], Json::array({"sep_conv_3x3", 1}));
  EXPECT_EQ(json["reduce"].size(), 8u);
  EXPECT_EQ(json["reduce_concat"], Json::array({2, 3, 4, 5}));
}

}  // namespace
}  // namespace nasx
