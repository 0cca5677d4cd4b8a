#include "nasx/params.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace nasx {
namespace {

using ::testing::HasSubstr;

struct ExampleOptions {
  bool flag = true;
  int64_t epochs = 50;
  double lr = 0.025;
  std::string order = "first";
};

const OptionsBinding<ExampleOptions>& binding() {
  static const auto b = OptionsBinding<ExampleOptions>()
                            .field("flag", &ExampleOptions::flag, "a flag")
                            .field("epochs", &ExampleOptions::epochs, "epochs", {1.0, 1000.0})
                            .field("lr", &ExampleOptions::lr, "learning rate", {0.0, {}})
                            .field("order", &ExampleOptions::order, "order", {"first", "second"});
  return b;
}

TEST(OptionsBinding, SchemaTakesDefaultsFromTheStruct) {
  const auto& specs = binding().schema().specs();
  ASSERT_EQ(specs.size(), 4u);
  EXPECT_EQ(specs[1].name, "epochs");
  EXPECT_EQ(specs[1].type, ParamType::Int);
  EXPECT_EQ(std::get<int64_t>(specs[1].default_value), 50);
  EXPECT_EQ(std::get<double>(specs[2].default_value), 0.025);
  EXPECT_EQ(specs[3].choices, (std::vector<std::string>{"first", "second"}));
}

TEST(OptionsBinding, ReadsValuesAndWritesThemBack) {
  ParamValues values{{"epochs", int64_t{3}}, {"order", std::string("second")}};
  const ExampleOptions options = binding().read(values);
  EXPECT_EQ(options.epochs, 3);
  EXPECT_EQ(options.order, "second");
  EXPECT_EQ(options.lr, 0.025);
  const ParamValues back = binding().values(options);
  EXPECT_EQ(std::get<int64_t>(back.at("epochs")), 3);
  EXPECT_EQ(std::get<bool>(back.at("flag")), true);
}

TEST(ParamValueProblem, NamesTheValueAndTheBound) {
  const auto& schema = binding().schema();
  EXPECT_EQ(param_value_problem(*schema.find("epochs"), int64_t{5}), "");
  EXPECT_THAT(param_value_problem(*schema.find("epochs"), int64_t{0}),
              HasSubstr("0 is below the minimum 1"));
  EXPECT_THAT(param_value_problem(*schema.find("order"), std::string("third")),
              HasSubstr("\"third\" is not one of \"first\" \"second\""));
}

TEST(FormatParamValue, WritesTomlLiterals) {
  EXPECT_EQ(format_param_value(true), "true");
  EXPECT_EQ(format_param_value(int64_t{7}), "7");
  EXPECT_EQ(format_param_value(3.0), "3.0");
  EXPECT_EQ(format_param_value(0.1), "0.1");
  EXPECT_EQ(format_param_value(std::string("a\"b")), "\"a\\\"b\"");
}

}  // namespace
}  // namespace nasx
