#include "config/yaml_schema.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "ops/file_read.hpp"
#include "text/byte_size.hpp"
#include "text/safe_text.hpp"

namespace exportd {

std::string Diagnostic::str() const {
  if (line == 0) return message;  // a whole line from another file's reader
  return terminal_safe(file) + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

void Diagnostics::add(const YAML::Mark& mark, std::string message) {
  // yaml-cpp marks are 0-based; a null mark (-1) means "somewhere in the file".
  add_at(mark.line >= 0 ? mark.line + 1 : 1, mark.column >= 0 ? mark.column + 1 : 1, std::move(message));
}

void Diagnostics::add_at(int line, int column, std::string message) {
  // Messages quote what the file said: bounded and safe for a terminal.
  items_.push_back({file_, line, column, bounded_text(message, 1024)});
}

void Diagnostics::add_line(std::string line) { items_.push_back({"", 0, 0, bounded_text(line, 1024)}); }

std::string Diagnostics::str() const {
  std::string out;
  for (const auto& d : items_) out += d.str() + "\n";
  return out;
}

Failure Diagnostics::failure() const {
  auto text = str();
  if (!text.empty()) text.pop_back();
  return {kind_, std::move(text)};
}

std::optional<YAML::Node> load_yaml_file(const std::string& path, Diagnostics& diags) {
  const auto text = read_regular_file(path, max_job_file_bytes);
  if (!text) {
    diags.add_at(1, 1, "cannot read file: " + text.error().message);
    diags.set_kind(Errc::unreadable);
    return std::nullopt;
  }
  return load_yaml_text(*text, diags);
}

std::optional<YAML::Node> load_yaml_text(const std::string& text, Diagnostics& diags) {
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    diags.add(e.mark, "YAML syntax error: " + e.msg);
  } catch (const YAML::Exception& e) {
    diags.add(e.mark, "YAML error: " + e.msg);
  }
  return std::nullopt;
}

YamlMap::YamlMap(const YAML::Node& node, std::string what, Diagnostics& diags)
    : what_(std::move(what)), diags_(diags), mark_(node.Mark()) {
  if (!node.IsMap()) {
    diags_.add(node.Mark(), what_ + " must be a mapping of keys to values");
    valid_ = false;
    return;
  }
  for (const auto& kv : node) {
    std::string key = kv.first.Scalar();
    if (!is_utf8(key)) {
      diags_.add(kv.first.Mark(), "a key in " + what_ + " is not valid UTF-8 text; save the file as UTF-8");
      continue;
    }
    if (find(key) != nullptr) {
      diags_.add(kv.first.Mark(), "duplicate key '" + key + "' in " + what_);
      continue;
    }
    entries_.push_back({std::move(key), kv.second, kv.first.Mark(), false});
  }
}

YamlMap::Entry* YamlMap::find(std::string_view key) {
  for (auto& e : entries_)
    if (e.key == key) return &e;
  return nullptr;
}

bool YamlMap::has(std::string_view key) const {
  for (const auto& e : entries_)
    if (e.key == key) return true;
  return false;
}

YAML::Mark YamlMap::value_mark(std::string_view key) const {
  for (const auto& e : entries_)
    if (e.key == key) return e.value.IsNull() ? e.key_mark : e.value.Mark();
  return mark_;
}

std::optional<std::string> YamlMap::scalar(Entry& e) {
  e.used = true;
  if (e.value.IsNull()) {
    diags_.add(e.key_mark, "'" + e.key + "' has no value");
    return std::nullopt;
  }
  if (!e.value.IsScalar()) {
    diags_.add(e.value.Mark(), "'" + e.key + "' must be a single value, not a list or mapping");
    return std::nullopt;
  }
  if (!is_utf8(e.value.Scalar())) {
    diags_.add(e.value.Mark(), "'" + e.key + "' is not valid UTF-8 text; save the file as UTF-8");
    return std::nullopt;
  }
  return e.value.Scalar();
}

std::optional<std::string> YamlMap::string(std::string_view key) {
  Entry* e = find(key);
  if (e == nullptr) return std::nullopt;
  return scalar(*e);
}

std::optional<Millis> YamlMap::duration(std::string_view key) {
  Entry* e = find(key);
  if (e == nullptr) return std::nullopt;
  auto text = scalar(*e);
  if (!text) return std::nullopt;
  auto d = parse_duration(*text);
  if (!d)
    diags_.add(e->value.Mark(),
               "'" + e->key + "': '" + *text + "' is not a duration; write a number and a unit: 250ms, 5s, 10m, 2h");
  return d;
}

std::optional<std::uint64_t> YamlMap::byte_size(std::string_view key) {
  Entry* e = find(key);
  if (e == nullptr) return std::nullopt;
  auto text = scalar(*e);
  if (!text) return std::nullopt;
  auto n = parse_byte_size(*text);
  if (!n)
    diags_.add(e->value.Mark(),
               "'" + e->key + "': '" + *text + "' is not a size; write a number and a unit: 64KiB, 256MiB, 1GiB");
  return n;
}

std::optional<std::uint64_t> YamlMap::unsigned_int(std::string_view key, std::uint64_t min, std::uint64_t max) {
  Entry* e = find(key);
  if (e == nullptr) return std::nullopt;
  auto text = scalar(*e);
  if (!text) return std::nullopt;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc{} || end != text->data() + text->size() || v < min || v > max) {
    diags_.add(e->value.Mark(), "'" + e->key + "': '" + *text + "' must be a whole number from " + std::to_string(min) +
                                    " to " + std::to_string(max));
    return std::nullopt;
  }
  return v;
}

std::optional<bool> YamlMap::boolean(std::string_view key) {
  Entry* e = find(key);
  if (e == nullptr) return std::nullopt;
  auto text = scalar(*e);
  if (!text) return std::nullopt;
  if (*text == "true") return true;
  if (*text == "false") return false;
  diags_.add(e->value.Mark(), "'" + e->key + "': '" + *text + "' must be true or false");
  return std::nullopt;
}

std::optional<std::vector<std::string>> YamlMap::string_list(std::string_view key) {
  Entry* e = find(key);
  if (e == nullptr) return std::nullopt;
  e->used = true;
  if (e->value.IsNull()) return std::vector<std::string>{};
  if (!e->value.IsSequence()) {
    diags_.add(e->value.Mark(), "'" + e->key + "' must be a list");
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& item : e->value) {
    if (!item.IsScalar()) {
      diags_.add(item.Mark(), "'" + e->key + "' items must be single values");
      return std::nullopt;
    }
    if (!is_utf8(item.Scalar())) {
      diags_.add(item.Mark(), "'" + e->key + "' items must be valid UTF-8 text");
      return std::nullopt;
    }
    out.push_back(item.Scalar());
  }
  return out;
}

std::optional<YAML::Node> YamlMap::node(std::string_view key) {
  Entry* e = find(key);
  if (e == nullptr) return std::nullopt;
  e->used = true;
  return e->value;
}

void YamlMap::reject_unknown() {
  for (const auto& e : entries_)
    if (!e.used) diags_.add(e.key_mark, "unknown key '" + e.key + "' in " + what_);
}

}  // namespace exportd
