#include "text/file_name.hpp"

#include <array>
#include <optional>

#include "text/safe_text.hpp"

namespace exportd {

namespace {

constexpr std::size_t max_value_bytes = 200;
constexpr std::size_t max_segment_bytes = 255;  // NAME_MAX on Linux file systems

struct Placeholder {
  std::string_view name;
  std::string_view NameValues::*value;
};
constexpr std::array<Placeholder, 4> placeholders{{{"file", &NameValues::file},
                                                   {"id", &NameValues::id},
                                                   {"project_id", &NameValues::project_id},
                                                   {"resolution", &NameValues::resolution}}};

const Placeholder* find_placeholder(std::string_view name) {
  for (const auto& p : placeholders)
    if (p.name == name) return &p;
  return nullptr;
}

// Calls `literal(text)` and `placeholder(name)` for the template's pieces in
// order; returns the problem with its braces, or "".
template <class Literal, class Slot>
std::string walk(std::string_view tmpl, Literal literal, Slot slot) {
  std::size_t at = 0;
  while (at < tmpl.size()) {
    const auto open = tmpl.find_first_of("{}", at);
    if (open == std::string_view::npos) {
      literal(tmpl.substr(at));
      break;
    }
    if (tmpl[open] == '}') return "a '}' with no '{' before it";
    literal(tmpl.substr(at, open - at));
    const auto close = tmpl.find('}', open);
    if (close == std::string_view::npos) return "a '{' with no '}' after it";
    const auto name = tmpl.substr(open + 1, close - open - 1);
    const auto* p = find_placeholder(name);
    if (p == nullptr) return "{" + std::string(name) + "} is not one of {file}, {id}, {project_id}, {resolution}";
    slot(*p);
    at = close + 1;
  }
  return "";
}

// Why the relative path `path` is not one a file can be written to below a folder.
std::string path_problem(std::string_view path) {
  if (path.empty()) return "it is empty";
  if (path.front() == '/') return "it starts with '/': it must be a path inside download.dir";
  if (path.back() == '/') return "it ends with '/': it must end in a file name";
  std::size_t at = 0;
  while (at <= path.size()) {
    auto end = path.find('/', at);
    if (end == std::string_view::npos) end = path.size();
    const auto segment = path.substr(at, end - at);
    if (segment.empty()) return "it has an empty segment ('//')";
    if (segment == "." || segment == "..") return "it has a '" + std::string(segment) + "' segment";
    if (segment.size() > max_segment_bytes)
      return "a segment is longer than " + std::to_string(max_segment_bytes) + " bytes";
    // NAME.part is where NAME's bytes gather while they download: a video
    // under such a name would be another job's download in progress.
    if (end == path.size() && segment.ends_with(".part"))
      return "it ends in '.part', the name a video has while it downloads";
    at = end + 1;
  }
  return "";
}

std::string value_problem(std::string_view v) {
  if (v.empty()) return "is empty";
  if (v.find('/') != std::string_view::npos) return "holds '/'";
  if (v == "." || v == "..") return "is '" + std::string(v) + "'";
  if (!is_utf8(v) || has_control(v) || v.find('\0') != std::string_view::npos)
    return "is not plain text (control characters or invalid UTF-8)";
  if (v.size() > max_value_bytes) return "is longer than " + std::to_string(max_value_bytes) + " bytes";
  return "";
}

}  // namespace

std::string name_template_problem(std::string_view tmpl) {
  // The template's shape, with every placeholder standing for a plain value.
  std::string shape;
  const auto bad = walk(
      tmpl, [&](std::string_view text) { shape += text; }, [&](const Placeholder&) { shape += 'x'; });
  if (!bad.empty()) return bad;
  if (!is_utf8(tmpl) || has_control(tmpl)) return "it holds control characters or invalid UTF-8";
  return path_problem(shape);
}

bool uses_project_id(std::string_view tmpl) { return tmpl.find("{project_id}") != std::string_view::npos; }

Result<std::string> render_name(std::string_view tmpl, const NameValues& values) {
  std::string out, problem;
  const auto bad = walk(
      tmpl, [&](std::string_view text) { out += text; },
      [&](const Placeholder& p) {
        const auto v = values.*p.value;
        if (const auto why = value_problem(v); !why.empty() && problem.empty())
          problem = "{" + std::string(p.name) + "} " + why + " ('" + bounded_text(v, 64) + "')";
        out += v;
      });
  if (!bad.empty()) return Failure{Errc::invalid_input, "download.name: " + bad};
  if (!problem.empty())
    return Failure{Errc::invalid_input, "the video's file name cannot be made: " + problem +
                                            ", which could leave download.dir; give the job an 'id' that is a "
                                            "plain name, or change download.name"};
  if (const auto why = path_problem(out); !why.empty())
    return Failure{Errc::invalid_input, "the video's file name '" + bounded_text(out, 128) + "' is unusable: " + why};
  return out;
}

std::string file_stem(std::string_view file_name) {
  const auto dot = file_name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return std::string(file_name);
  return std::string(file_name.substr(0, dot));
}

}  // namespace exportd
