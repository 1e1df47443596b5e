#include "jobs/scenes_schema.hpp"

#include <array>

#include <boost/json/serialize.hpp>

#include "text/safe_text.hpp"

namespace exportd {

namespace json = boost::json;

namespace {

constexpr std::array<std::string_view, 6> clip_types{"aiModel", "shape", "image", "textImage", "videoImage", "audio"};

std::string kind_of(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
      return "an integer";
    case json::kind::double_:
      return "a number with a fraction";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

bool is_integer(const json::value& v) { return v.is_int64() || v.is_uint64(); }

// A value as it may be quoted in a message: short, one line.
std::string shown(const json::value& v) { return bounded_text(json::serialize(v), 60); }

class Checker {
 public:
  Checker(std::vector<std::string>& out, std::size_t max) : out_(out), max_(max) {}
  ~Checker() {
    if (count_ > max_) out_.push_back(std::to_string(count_ - max_) + " more scenes problems not shown");
  }
  Checker(const Checker&) = delete;
  Checker& operator=(const Checker&) = delete;

  void problem(const std::string& pointer, const std::string& what) {
    if (++count_ <= max_) out_.push_back(pointer + ": " + what);
  }

  // `key` of `o` must be present and pass `ok`; `want` names what it must be.
  template <typename Ok>
  void field(const json::object& o, const std::string& at, std::string_view key, bool required, Ok ok,
             std::string_view want) {
    const auto* v = o.if_contains(key);
    const auto pointer = at + "/" + std::string(key);
    if (v == nullptr) {
      if (required) problem(pointer, "missing; the create call needs " + std::string(want));
      return;
    }
    if (!ok(*v)) problem(pointer, "is " + kind_of(*v) + " (" + shown(*v) + "); it must be " + std::string(want));
  }

  void clip(const json::value& v, const std::string& at) {
    if (!v.is_object()) return problem(at, "a clip must be an object, not " + kind_of(v));
    const auto& o = v.as_object();
    const auto number = [](const json::value& x) { return x.is_number(); };
    field(o, at, "id", true, [](const json::value& x) { return x.is_string(); }, "a string");
    if (const auto* type = o.if_contains("type"); type == nullptr) {
      problem(at + "/type", "missing; the create call needs one of " + types_list());
    } else if (!type->is_string() || !is_clip_type(type->as_string())) {
      problem(at + "/type", shown(*type) + " is not one of " + types_list());
    }
    for (const auto* key : {"height", "width", "left", "top"}) field(o, at, key, true, number, "a number");
    field(o, at, "layer", true, is_integer, "an integer");
    for (const auto* key : {"scaleX", "scaleY"}) field(o, at, key, false, number, "a number");
  }

  void scene(const json::value& v, const std::string& at) {
    if (!v.is_object()) return problem(at, "a scene must be an object, not " + kind_of(v));
    const auto& o = v.as_object();
    field(o, at, "sceneIdx", true, is_integer, "an integer");
    field(o, at, "background", true, [](const json::value& x) { return x.is_object(); }, "an object");
    field(o, at, "clips", true, [](const json::value& x) { return x.is_array(); }, "an array");
    if (const auto* clips = o.if_contains("clips"); clips != nullptr && clips->is_array()) {
      std::size_t i = 0;
      for (const auto& c : clips->as_array()) clip(c, at + "/clips/" + std::to_string(i++));
    }
  }

 private:
  static std::string types_list() {
    std::string out;
    for (const auto t : clip_types) out += (out.empty() ? "" : ", ") + std::string(t);
    return out;
  }

  std::vector<std::string>& out_;
  std::size_t max_;
  std::size_t count_ = 0;
};

}  // namespace

bool is_clip_type(std::string_view type) {
  for (const auto t : clip_types)
    if (t == type) return true;
  return false;
}

std::vector<std::string> scenes_schema_problems(const json::value& scenes, std::string_view pointer, std::size_t max) {
  std::vector<std::string> out;
  {
    Checker check(out, max);
    const std::string at(pointer);
    if (!scenes.is_array()) {
      check.problem(at, "scenes must be an array, not " + kind_of(scenes));
    } else if (scenes.as_array().empty()) {
      check.problem(at, "scenes is empty; the create call needs at least one scene");
    } else {
      std::size_t i = 0;
      for (const auto& s : scenes.as_array()) check.scene(s, at + "/" + std::to_string(i++));
    }
  }
  return out;
}

}  // namespace exportd
