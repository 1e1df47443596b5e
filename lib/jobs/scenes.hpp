#pragma once

// A create job's scenes file: read (only below its folder, through no link
// below it), parsed, and held once for the many jobs that name it.

#include <memory>
#include <string>

#include <boost/json/value.hpp>

#include "api/wire.hpp"
#include "error/error.hpp"
#include "ops/file_read.hpp"

namespace exportd {

// Reads a scenes file into the `scenes` array of a create request. Accepts a
// bare array or an object holding `scenes`. Only a regular file up to
// max_scenes_file_bytes is read; with `root`, only below it and through no
// symbolic link below it.
Result<boost::json::value> load_scenes(const std::string& path, const std::string& root);
// The same, and where the array stands in the file: "/scenes" or "" (a bare
// array), the prefix of a JSON pointer into the file.
struct LoadedScenes {
  boost::json::value scenes;
  std::string pointer;
};
Result<LoadedScenes> load_scenes_at(const std::string& path, const std::string& root);

// The last scenes file read, kept while it is unchanged (the same file,
// size and time) in the form `Held` its users need; one file held at a time.
// Read on a file thread, never the event loop.
template <typename Held>
class LastScenes {
 public:
  Result<std::shared_ptr<const Held>> read(const std::string& path, const std::string& root);

 private:
  std::string path_, root_;
  FileStamp stamp_;
  std::shared_ptr<const Held> held_;
};

// The scenes of create requests as they are sent: a thousand jobs naming
// one file read and parse it once, and it is held as text (at most 8 MiB),
// not parsed.
using ScenesCache = LastScenes<SerializedJson>;
// A template's scenes as its rows are sent: parsed once, for every row.
using TemplateCache = LastScenes<boost::json::value>;

}  // namespace exportd
