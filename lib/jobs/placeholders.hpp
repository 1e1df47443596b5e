#pragma once

// {{column}} placeholders of a personalized batch (SPEC §12), filled in on
// the parsed JSON, so a value holding quotes, backslashes or line breaks
// cannot break the request: in every string value of the template (never
// a key), HTML-escaped inside a clip's `script.org` (the API takes HTML
// there), verbatim elsewhere. Pure: a template and a row in, a value out.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>


namespace exportd {

// The column names `text` uses, in order of first use; `why` says what is
// wrong with a placeholder that cannot be read ("{{" never closed, an empty
// name), at its byte offset.
struct PlaceholderUse {
  std::vector<std::string> columns;
  std::optional<std::pair<std::size_t, std::string>> fault;
};
PlaceholderUse placeholders_in(std::string_view text);

// Every placeholder of a scenes template, each with the JSON pointer of the
// string value holding it (`pointer` is where the scenes stand in the file),
// and what cannot be read ("<pointer>: why").
struct TemplatePlaceholder {
  std::string pointer;
  std::string column;
};
struct TemplateUse {
  std::vector<TemplatePlaceholder> uses;
  std::vector<std::string> faults;
};
TemplateUse placeholders_in_template(const boost::json::value& scenes, std::string_view pointer);

// `text` with each {{name}} replaced by value(name); nothing when a name has
// no value (the caller checked every name beforehand).
using ColumnValue = std::function<std::optional<std::string_view>(std::string_view name)>;
std::optional<std::string> fill(std::string_view text, const ColumnValue& value);

// The same over a scenes template: every string value filled, HTML-escaped
// where it is a clip's script.org (a path scenes/N/clips/M/script/org, or
// clips/M/script/org at the top), keys untouched. Nothing when a name has no value.
std::optional<boost::json::value> fill_template(const boost::json::value& scenes, const ColumnValue& value);

}  // namespace exportd
