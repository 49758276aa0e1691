#include "gearbox/core/error.hpp"

#include <gtest/gtest.h>

namespace gearbox {

TEST(Error, FormatsFileLineFieldExpectedFound) {
  const Error e = Error::input("index out of range")
                      .at("graph.mtx", 17)
                      .field("col")
                      .expected("1..10")
                      .found("12");
  EXPECT_STREQ(e.what(),
               "graph.mtx:17: field 'col': index out of range (expected 1..10, found 12)");
  EXPECT_EQ(e.line(), 17u);
  EXPECT_EQ(e.field_name(), "col");
}

TEST(Error, FormatsByteOffset) {
  const Error e = Error::input("string length past end of file").at_offset("m.gguf", 4096);
  EXPECT_STREQ(e.what(), "m.gguf at byte offset 4096: string length past end of file");
  EXPECT_EQ(e.offset(), 4096u);
}

TEST(Error, MessageAloneAndPartialContext) {
  EXPECT_STREQ(Error::runtime("disk full").what(), "disk full");
  EXPECT_STREQ(Error::usage("bad").found("x").what(), "bad (found x)");
  EXPECT_STREQ(Error::usage("bad").expected("y").what(), "bad (expected y)");
}

TEST(Error, ExitCodesByKind) {
  EXPECT_EQ(Error::usage("u").exit_code(), 2);
  EXPECT_EQ(Error::input("i").exit_code(), 2);
  EXPECT_EQ(Error::runtime("r").exit_code(), 1);
}

TEST(Error, SurvivesThrowAndCatchAsStdException) {
  try {
    throw Error::input("truncated").at("f.txt", 3);
  } catch (const std::exception& e) {
    EXPECT_STREQ(e.what(), "f.txt:3: truncated");
    return;
  }
  FAIL() << "not thrown";
}

}  // namespace gearbox
