// {{column}} placeholders of a personalized batch (SPEC §12), filled on the
// parsed JSON: values arrive exactly as written (JSON-escaped by the
// serializer, HTML-escaped only in a clip's script.org), keys untouched.

#include <map>
#include <string>

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "jobs/placeholders.hpp"

namespace exportd {
namespace {

namespace json = boost::json;

ColumnValue row(const std::map<std::string, std::string, std::less<>>& cells) {
  return [cells](std::string_view name) -> std::optional<std::string_view> {
    const auto it = cells.find(name);
    if (it == cells.end()) return std::nullopt;
    return std::string_view(it->second);
  };
}

TEST(Placeholders, TheColumnsATextUsesAndItsFaults) {
  const auto use = placeholders_in("Hi {{first_name}}, {{first_name}} of {{city}}");
  EXPECT_EQ(use.columns, (std::vector<std::string>{"first_name", "city"}));
  EXPECT_FALSE(use.fault);
  EXPECT_EQ(placeholders_in("Hi {{name").fault->first, 3u);
  EXPECT_EQ(placeholders_in("a{{}}").fault->second, "'{{}}' names no column");
}

TEST(Placeholders, AValueArrivesExactlyAsWrittenEscapedOnlyInAScript) {
  const std::string hostile = "Tom \"T\" O'Neil & <Jerry>\\\nZoë";
  const auto scenes = json::parse(R"({"scenes":[{"sceneIdx":0,"clips":[
      {"id":"c1","type":"aiModel","script":{"org":"Hello {{name}}!"},"{{name}}":"key stays"},
      {"id":"c2","type":"textImage","text":"Dear {{name}}"}]}]})");
  const auto filled = fill_template(scenes, row({{"name", hostile}}));
  ASSERT_TRUE(filled);
  // Through the serializer and back: the bytes the API gets decode to exactly this.
  const auto sent = json::parse(json::serialize(*filled));
  const auto& clips = sent.at("scenes").at(0).at("clips").as_array();
  EXPECT_EQ(clips.at(0).at("script").at("org").as_string(),
            "Hello Tom &quot;T&quot; O&#39;Neil &amp; &lt;Jerry&gt;\\\nZoë!");
  EXPECT_EQ(clips.at(1).at("text").as_string(), "Dear " + hostile);
  EXPECT_EQ(clips.at(0).as_object().count("{{name}}"), 1u) << "a key is never filled";
}

TEST(Placeholders, ANameWithoutAValueFillsNothing) {
  EXPECT_FALSE(fill("Hi {{nmae}}", row({{"name", "x"}})));
  EXPECT_FALSE(fill_template(json::parse(R"({"a":["{{nmae}}"]})"), row({{"name", "x"}})));
  EXPECT_EQ(*fill("no placeholders, {{ not closed", row({})), "no placeholders, {{ not closed");
}

// A value is put in once, never read again for placeholders: a cell holding
// "{{secret}}" arrives as those characters, not as another column's value.
TEST(Placeholders, AValueThatLooksLikeAPlaceholderIsNotFilledAgain) {
  EXPECT_EQ(*fill("Hi {{name}}!", row({{"name", "{{secret}}"}, {"secret", "s3cr3t"}})), "Hi {{secret}}!");
}

}  // namespace
}  // namespace exportd
