#include "jobs/placeholders.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include "text/safe_text.hpp"

namespace exportd {

namespace json = boost::json;

PlaceholderUse placeholders_in(std::string_view text) {
  PlaceholderUse out;
  for (std::size_t at = text.find("{{"); at != std::string_view::npos; at = text.find("{{", at)) {
    const auto close = text.find("}}", at + 2);
    if (close == std::string_view::npos) {
      out.fault = std::pair{at, std::string("a '{{' is never closed with '}}'")};
      return out;
    }
    const auto name = text.substr(at + 2, close - at - 2);
    if (name.empty()) {
      out.fault = std::pair{at, std::string("'{{}}' names no column")};
      return out;
    }
    bool seen = false;
    for (const auto& c : out.columns) seen = seen || c == name;
    if (!seen) out.columns.emplace_back(name);
    at = close + 2;
  }
  return out;
}

std::optional<std::string> fill(std::string_view text, const ColumnValue& value) {
  std::string out;
  std::size_t from = 0;
  for (std::size_t at = text.find("{{"); at != std::string_view::npos; at = text.find("{{", from)) {
    const auto close = text.find("}}", at + 2);
    if (close == std::string_view::npos) break;
    const auto v = value(text.substr(at + 2, close - at - 2));
    if (!v) return std::nullopt;
    out.append(text.substr(from, at - from));
    out.append(*v);
    from = close + 2;
  }
  out.append(text.substr(from));
  return out;
}

namespace {

// Fills `v` in place; `path` the keys and indexes above it. False when a name has no value.
bool fill_in(json::value& v, std::vector<std::string_view>& path, const ColumnValue& value) {
  if (v.is_string()) {
    // A clip's script: .../clips/<n>/script/org.
    const auto n = path.size();
    const bool script = n >= 4 && path[n - 1] == "org" && path[n - 2] == "script" && path[n - 4] == "clips";
    if (!script) {
      auto filled = fill(v.as_string(), value);
      if (!filled) return false;
      v = json::string(*filled);
      return true;
    }
    std::vector<std::string> held;  // the escaped values live here while fill() reads them
    auto filled = fill(v.as_string(), [&](std::string_view name) -> std::optional<std::string_view> {
      const auto raw = value(name);
      if (!raw) return std::nullopt;
      held.push_back(html_escaped(*raw));
      return std::string_view(held.back());
    });
    if (!filled) return false;
    v = json::string(*filled);
    return true;
  }
  if (v.is_object()) {
    for (auto& [key, item] : v.as_object()) {
      path.push_back(key);
      const bool ok = fill_in(item, path, value);
      path.pop_back();
      if (!ok) return false;
    }
  } else if (v.is_array()) {
    for (auto& item : v.as_array()) {
      path.push_back("#");  // an index: only its place in the path matters
      const bool ok = fill_in(item, path, value);
      path.pop_back();
      if (!ok) return false;
    }
  }
  return true;
}

// A JSON pointer's reference token (RFC 6901: '~' as ~0, '/' as ~1).
std::string pointer_token(std::string_view key) {
  std::string out;
  for (const char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

void scan(const json::value& v, const std::string& pointer, TemplateUse& out) {
  if (v.is_string()) {
    auto use = placeholders_in(v.as_string());
    if (use.fault) out.faults.push_back(pointer + ": " + use.fault->second);
    for (auto& c : use.columns) out.uses.push_back({pointer, std::move(c)});
  } else if (v.is_object()) {
    for (const auto& [key, item] : v.as_object()) scan(item, pointer + "/" + pointer_token(key), out);
  } else if (v.is_array()) {
    std::size_t i = 0;
    for (const auto& item : v.as_array()) scan(item, pointer + "/" + std::to_string(i++), out);
  }
}

}  // namespace

TemplateUse placeholders_in_template(const json::value& scenes, std::string_view pointer) {
  TemplateUse out;
  scan(scenes, std::string(pointer), out);
  return out;
}

std::optional<json::value> fill_template(const json::value& scenes, const ColumnValue& value) {
  json::value out = scenes;
  std::vector<std::string_view> path;
  if (!fill_in(out, path, value)) return std::nullopt;
  return out;
}

}  // namespace exportd
