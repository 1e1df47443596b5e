// The CSV reader of a personalized batch (SPEC §12): RFC 4180 fields,
// line breaks, BOM, and every fault at its FILE:LINE:COL.

#include <gtest/gtest.h>

#include "text/csv.hpp"

namespace exportd {
namespace {

std::string fault(std::string_view text, const CsvLimits& limits = {}) {
  auto r = read_csv(text, "people.csv", limits);
  EXPECT_FALSE(r) << "read without a fault: " << text;
  return r ? std::string() : r.error().message;
}

TEST(Csv, QuotedFieldsHoldCommasDoubledQuotesAndLineBreaks) {
  const auto r =
      read_csv("\xEF\xBB\xBFid,name,note\r\n1,\"Tom, Jr.\",\"say \"\"hi\"\"\"\r\n2,Zoë,\"two\nlines\"\n", "p.csv");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->header.size(), 3u);
  EXPECT_EQ(r->header[0].text, "id");  // the BOM is not part of the name
  ASSERT_EQ(r->rows.size(), 2u);
  EXPECT_EQ(r->rows[0][1].text, "Tom, Jr.");
  EXPECT_EQ(r->rows[0][2].text, "say \"hi\"");
  EXPECT_EQ(r->rows[1][1].text, "Zoë");
  EXPECT_EQ(r->rows[1][2].text, "two\nlines");
  EXPECT_EQ(r->rows[1][2].line, 3u);
  EXPECT_EQ(r->rows[1][2].column, 7u);  // after "2,Zoë,": 6 characters (ë is one, two bytes)
}

TEST(Csv, AFileWithoutAFinalLineBreakAndATrailingEmptyCellReads) {
  const auto r = read_csv("a,b\nx,", "p.csv");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->rows.size(), 1u);
  EXPECT_EQ(r->rows[0][1].text, "");
}

TEST(Csv, EachFaultIsReportedAtItsLineAndColumn) {
  EXPECT_NE(fault("id,name\n1,\"open\n2,b\n").find("people.csv:2:3: this quoted cell is never closed"),
            std::string::npos);
  EXPECT_NE(fault("id,name\n1,a,extra\n").find("people.csv:2:1: this row has 3 cells and the first line names 2"),
            std::string::npos);
  EXPECT_NE(fault("id,name\n1\n").find("people.csv:2:1: this row has 1 cells"), std::string::npos);
  EXPECT_NE(fault("id,na\"me\n").find("people.csv:1:6: a '\"' inside a cell that is not quoted"), std::string::npos);
  EXPECT_NE(fault("id,name\n1,\"a\"b\n").find("people.csv:2:6: text after a quoted cell's closing quote"),
            std::string::npos);
  EXPECT_NE(fault("id,,x\n").find("people.csv:1:4: a column without a name"), std::string::npos);
  EXPECT_NE(fault("id,id\n").find("people.csv:1:4: column 'id' is named twice"), std::string::npos);
  EXPECT_NE(fault("id,name\n1,\xff\n").find("people.csv:2:1: this line is not valid UTF-8"), std::string::npos);
  EXPECT_NE(fault("").find("people.csv:1:1: the file is empty"), std::string::npos);
}

TEST(Csv, ACellOverTheLimitAndTooManyRowsAreRefused) {
  const std::string big = "id,text\n1," + std::string(64 * 1024 + 1, 'x') + "\n";
  EXPECT_NE(fault(big).find("people.csv:2:3: this cell is over 64 KiB"), std::string::npos);
  EXPECT_TRUE(read_csv("id,text\n1," + std::string(64 * 1024, 'x') + "\n", "p.csv"));
  CsvLimits three;
  three.max_rows = 3;
  EXPECT_NE(fault("id\n1\n2\n3\n4\n5\n", three).find("people.csv:5:1: more than 3 rows (limits.max_rows)"),
            std::string::npos);
}

TEST(Csv, TheFirstTwentyProblemsAreShownThenACount) {
  std::string text = "id,name\n";
  for (int i = 0; i < 25; ++i) text += "1,a,extra\n";
  const auto why = fault(text);
  EXPECT_NE(why.find("people.csv:21:1:"), std::string::npos);  // the 20th bad row (line 21)
  EXPECT_EQ(why.find("people.csv:22:1: this row"), std::string::npos);
  // The count stands where the first problem not shown is.
  EXPECT_NE(why.find("people.csv:22:1: and 5 more problems from here on, not shown"), std::string::npos) << why;
}

}  // namespace
}  // namespace exportd
