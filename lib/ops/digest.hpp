#pragma once

#include <string>

namespace exportd {

// A short hex SHA-256 of `text` (16 hex digits): recognises a queue file or
// a claimed job file seen before, and tags a create job's project name.
std::string content_digest(const std::string& text);

}  // namespace exportd
