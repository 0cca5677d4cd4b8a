#include "ws64/child.hpp"

#include <random>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nasx/enumerate.hpp"
#include "nasx/error.hpp"
#include "ws64/space.hpp"

namespace nasx::ws64 {
namespace {

using ::testing::HasSubstr;

TEST(Ws64Child, NamesAreThreeDigitsInIndexOrder) {
  EXPECT_EQ(Child::from_index(0).name(), "111");
  EXPECT_EQ(Child::from_index(7).name(), "124");
  EXPECT_EQ(Child::from_index(63).name(), "444");
  for (int64_t i = 0; i < kChildren; ++i) {
    const Child child = Child::from_index(i);
    EXPECT_EQ(child.index(), i);
    EXPECT_EQ(Child::parse(child.name()), child);
  }
  // Digit 1 is max pooling, digit 4 the dilated convolution; edges 1<-0, 2<-0, 2<-1.
  EXPECT_EQ(Child::parse("142").ops, (std::array<int, 3>{0, 3, 1}));
  EXPECT_EQ(operation_names()[3], "dil_conv_5x5");
  EXPECT_EQ(edge_nodes(2), (std::pair<int, int>{2, 1}));
}

TEST(Ws64Child, BadNamesSayWhatAChildNameIs) {
  try {
    Child::parse("151");
    FAIL() << "151 parsed";
  } catch (const GenotypeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("character 2"));
    EXPECT_THAT(e.what(), HasSubstr("'5'"));
  }
  EXPECT_THROW(Child::parse("11"), GenotypeError);
  EXPECT_THROW(Child::parse("1111"), GenotypeError);
  EXPECT_THROW(Child::parse("|nor_conv_3x3~0|"), GenotypeError);
}

TEST(Ws64Space, EnumeratesItsSixtyFourChildrenInNameOrder) {
  const Ws64Space space;
  EXPECT_EQ(count_architectures(space), 64);
  const auto all = enumerate_architectures(space);
  ASSERT_EQ(all.size(), 64u);
  for (int64_t i = 0; i < kChildren; ++i)
    EXPECT_EQ(space.format(all[static_cast<size_t>(i)]), Child::from_index(i).name());
}

TEST(Ws64Space, SamplesMutatesAndNeighboursStayInTheSpace) {
  const Ws64Space space;
  std::mt19937_64 rng(1);
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) seen.insert(space.format(space.sample(rng)));
  EXPECT_EQ(seen.size(), 64u);
  const Architecture arch = space.parse("214");
  for (int i = 0; i < 50; ++i) EXPECT_EQ(space.mutate(arch, rng).distance(arch), 1);
  const auto neighbours = space.neighbours(arch);
  EXPECT_EQ(neighbours.size(), 9u);
  for (const auto& n : neighbours) EXPECT_EQ(n.distance(arch), 1);
}

}  // namespace
}  // namespace nasx::ws64
