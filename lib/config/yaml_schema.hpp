#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "error/error.hpp"
#include "time/duration.hpp"

namespace exportd {

// One problem in an input file, reported as FILE:LINE:COL: message (1-based).
struct Diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;

  std::string str() const;
};

// Collects the problems of one file; a file with any is rejected whole.
class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  void add(const YAML::Mark& mark, std::string message);
  void add_at(int line, int column, std::string message);
  // A problem of another file this one names, already a whole
  // "FILE:LINE:COL: message" line (a rows file's cell, a scenes file's pointer).
  void add_line(std::string line);
  bool empty() const { return items_.empty(); }
  const std::vector<Diagnostic>& items() const { return items_; }
  const std::string& file() const { return file_; }
  std::string str() const;  // one line per diagnostic, newline-terminated
  // The file's rejection as a value: every problem, one line each.
  Failure failure() const;
  void set_kind(Errc kind) { kind_ = kind; }

 private:
  std::string file_;
  Errc kind_ = Errc::invalid_input;
  std::vector<Diagnostic> items_;
};

// Loads a YAML document, turning a syntax error into a diagnostic.
std::optional<YAML::Node> load_yaml_file(const std::string& path, Diagnostics& diags);
// The same for a file's text already read.
std::optional<YAML::Node> load_yaml_text(const std::string& text, Diagnostics& diags);

// Strict reader for one YAML mapping: every key must be asked for by name,
// each getter checks the value's type, and reject_unknown() reports the rest
// (with their position), so typos in a config surface at `exportd check`.
class YamlMap {
 public:
  YamlMap(const YAML::Node& node, std::string what, Diagnostics& diags);

  bool valid() const { return valid_; }
  bool has(std::string_view key) const;
  const YAML::Mark& mark() const { return mark_; }
  // Where the value of `key` stands (the map's own mark when absent).
  YAML::Mark value_mark(std::string_view key) const;

  std::optional<std::string> string(std::string_view key);
  std::optional<Millis> duration(std::string_view key);
  // "256MiB", "64KiB", "1GB": a whole number and a unit (see parse_byte_size).
  std::optional<std::uint64_t> byte_size(std::string_view key);
  std::optional<std::uint64_t> unsigned_int(std::string_view key, std::uint64_t min, std::uint64_t max);
  std::optional<bool> boolean(std::string_view key);
  std::optional<std::vector<std::string>> string_list(std::string_view key);
  // The raw node, for nested maps and lists; marks the key as known.
  std::optional<YAML::Node> node(std::string_view key);

  void reject_unknown();

 private:
  struct Entry {
    std::string key;
    YAML::Node value;
    YAML::Mark key_mark;
    bool used = false;
  };
  Entry* find(std::string_view key);
  std::optional<std::string> scalar(Entry& e);

  std::string what_;
  Diagnostics& diags_;
  YAML::Mark mark_;
  std::vector<Entry> entries_;
  bool valid_ = true;
};

}  // namespace exportd
