#pragma once

// Reading the config file (SPEC §3): strict YAML, every problem with its
// FILE:LINE:COL. The values themselves are in config/settings.hpp.

#include <optional>
#include <string>
#include <string_view>

#include "config/settings.hpp"
#include "config/yaml_schema.hpp"

namespace exportd {

// Reads and validates a config file; all problems are collected in `diags`.
std::optional<Config> load_config(const std::string& path, Diagnostics& diags);

// Reads the user key named by the config (file or environment variable).
// Returns nothing and sets `error` when it is missing or empty.
std::optional<std::string> read_user_key(const ApiSettings& api, std::string& error);

bool is_valid_resolution(std::string_view r);

}  // namespace exportd
