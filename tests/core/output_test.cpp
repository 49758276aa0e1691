#include "gearbox/core/output.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <sstream>

namespace gearbox {

TEST(Output, CsvQuotesOnlyWhenNeeded) {
  EXPECT_EQ(csv_escape("plain"), "plain");
  EXPECT_EQ(csv_escape("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_escape("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_escape("two\nlines"), "\"two\nlines\"");
  std::ostringstream out;
  write_csv_row(out, {"x", "1,2", ""});
  EXPECT_EQ(out.str(), "x,\"1,2\",\n");
}

TEST(Output, JsonIsOneDocumentAndNonFiniteBecomesNull) {
  std::ostringstream out;
  Json j{{"a", 1.5},
         {"nan", std::nan("")},
         {"inf", std::numeric_limits<double>::infinity()},
         {"nested", {{"x", std::nan("")}}}};
  write_json(out, j, -1);
  const Json back = Json::parse(out.str());
  EXPECT_EQ(back["a"], 1.5);
  EXPECT_TRUE(back["nan"].is_null());
  EXPECT_TRUE(back["inf"].is_null());
  EXPECT_TRUE(back["nested"]["x"].is_null());
  EXPECT_EQ(out.str().back(), '\n');
}

TEST(Output, TextTablePadsColumns) {
  TextTable t({"name", "ms"});
  t.add_row({"cora", "1.25"});
  t.add_row({"pubmed-long", "10.5"});
  std::ostringstream out;
  t.print(out);
  EXPECT_EQ(out.str(),
            "name         ms\n"
            "-----------  ----\n"
            "cora         1.25\n"
            "pubmed-long  10.5\n");
}

TEST(Output, FmtNum) {
  EXPECT_EQ(fmt_num(3.14159, 2), "3.14");
  EXPECT_EQ(fmt_num(std::nan(""), 2), "-");
}

}  // namespace gearbox
