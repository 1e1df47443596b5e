#pragma once

// Reading the config file (SPEC §3): strict YAML, every problem with its
// FILE:LINE:COL. The values themselves are in config/settings.hpp.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/settings.hpp"
#include "config/yaml_schema.hpp"

namespace exportd {

// Reads and validates a config file; a failure lists every problem, one
// FILE:LINE:COL line each.
Result<Config> load_config(const std::string& path);

// Reads the user key named by the config (file, environment variable or
// systemd credential); a failure when it is missing or empty.
Result<std::string> read_user_key(const ApiSettings& api);

bool is_valid_resolution(std::string_view r);

// webhook.listen: an IP address and a port ("127.0.0.1:8710", "[::1]:8710").
struct ListenAddress {
  std::string host;  // the address, without brackets
  std::uint16_t port = 0;
};
std::optional<ListenAddress> parse_listen_address(std::string_view text);

}  // namespace exportd
