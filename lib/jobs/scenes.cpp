#include "jobs/scenes.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "jobs/scenes_schema.hpp"

namespace exportd {

namespace {

constexpr std::string_view scenes_link_rule =
    "scenes files of a dropped job file are never read through a link below the drop folder (or jobs.scenes_root)";

Result<LoadedScenes> parse_scenes(const std::string& path, const std::string& text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec) return Failure{Errc::invalid_input, "scenes file " + path + " is not valid JSON: " + ec.message()};
  const bool wrapped = v.is_object() && v.as_object().contains("scenes");
  if (wrapped) v = v.as_object()["scenes"];
  if (!v.is_array() || v.as_array().empty())
    return Failure{
        Errc::invalid_input,
        "scenes file " + path + " must hold a non-empty JSON array of scenes (or an object with one under \"scenes\")"};
  // The documented schema, before a credit is spent: one line per problem, at its JSON pointer.
  const auto problems = scenes_schema_problems(v, wrapped ? "/scenes" : "");
  if (!problems.empty()) {
    std::string text;
    for (const auto& p : problems) text += (text.empty() ? "" : "\n") + path + ": " + p;
    return Failure{Errc::invalid_input, text};
  }
  return LoadedScenes{std::move(v), wrapped ? "/scenes" : ""};
}

Result<OpenedFile> open_scenes(const std::string& path, const std::string& root) {
  auto file = open_regular_file(path, max_scenes_file_bytes, root, scenes_link_rule);
  if (!file) return Failure{file.error().code, "cannot open scenes file " + path + ": " + file.error().message};
  return file;
}

Result<LoadedScenes> read_scenes(const std::string& path, const OpenedFile& file) {
  const auto text = read_opened(file, max_scenes_file_bytes);
  if (!text) return Failure{text.error().code, "cannot read scenes file " + path + ": " + text.error().message};
  return parse_scenes(path, *text);
}

}  // namespace

Result<LoadedScenes> load_scenes_at(const std::string& path, const std::string& root) {
  auto file = open_scenes(path, root);
  if (!file) return file.error();
  return read_scenes(path, *file);
}

Result<boost::json::value> load_scenes(const std::string& path, const std::string& root) {
  auto loaded = load_scenes_at(path, root);
  if (!loaded) return loaded.error();
  return std::move(loaded->scenes);
}

namespace {

// The form each cache holds a file in.
SerializedJson held_as(LoadedScenes&& loaded, const SerializedJson*) {
  return SerializedJson{boost::json::serialize(loaded.scenes)};
}
boost::json::value held_as(LoadedScenes&& loaded, const boost::json::value*) { return std::move(loaded.scenes); }

}  // namespace

template <typename Held>
Result<std::shared_ptr<const Held>> LastScenes<Held>::read(const std::string& path, const std::string& root) {
  auto file = open_scenes(path, root);
  if (!file) return file.error();
  if (held_ && path == path_ && root == root_ && file->stamp == stamp_) return held_;
  held_.reset();  // one file held at a time
  auto loaded = read_scenes(path, *file);
  if (!loaded) return loaded.error();
  path_ = path;
  root_ = root;
  stamp_ = file->stamp;
  held_ = std::make_shared<const Held>(held_as(std::move(*loaded), static_cast<const Held*>(nullptr)));
  return held_;
}

template class LastScenes<SerializedJson>;
template class LastScenes<boost::json::value>;

}  // namespace exportd
