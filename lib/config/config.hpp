#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/endpoint.hpp"
#include "config/duration.hpp"
#include "config/yaml_schema.hpp"

namespace exportd {

using namespace std::chrono_literals;

enum class LogLevel : std::uint8_t {
  debug,    // every request and decision
  info,     // one line per job event
  warning,  // retries, renewals that failed, things an operator should look at
  error,    // a job or the daemon could not go on
};

enum class LogFormat : std::uint8_t {
  text,  // human-readable lines
  json,  // one JSON object per line, for log shippers
};

struct ApiSettings {
  std::string base_url = "https://app.aistudios.com";
  ApiEndpoint endpoint;           // parsed from base_url
  std::string app_id;
  std::string user_key_file;        // one of these three names the user key
  std::string user_key_env;
  std::string user_key_credential;  // a systemd credential: $CREDENTIALS_DIRECTORY/NAME
  std::string ca_file;            // extra CA bundle on top of the system store
  Millis request_timeout = 30s;
  Millis token_refresh_after = 23h;
};

struct Limits {
  std::uint32_t max_active_jobs = 10000;
  std::uint32_t max_connections = 8;
  std::uint32_t requests_per_second = 20;  // 0 = unlimited
};

struct PollingSettings {
  Millis first_poll_after = 10s;
  Millis min_interval = 3s;
  Millis max_interval = 60s;
  Millis job_timeout = 2h;
};

struct RetrySettings {
  std::uint32_t max_attempts = 8;
  Millis initial_backoff = 1s;
  Millis max_backoff = 5min;
};

struct JobDefaults {
  std::string resolution = "1080";
  std::string workspace_id;
  std::string webhook_url;
  // jobs.scenes_root: a folder a dropped job file's scenes_file may lie in,
  // besides the drop folder itself ("" = the drop folder only).
  std::string drop_scenes_root;
};

struct LogSettings {
  LogLevel level = LogLevel::info;
  LogFormat format = LogFormat::text;
};

struct Config {
  std::string path;  // the file it was read from
  ApiSettings api;
  std::string state_dir = "/var/lib/exportd";
  std::vector<std::string> queue_files;  // absolute, or relative to the config's folder
  Limits limits;
  PollingSettings polling;
  RetrySettings retry;
  JobDefaults defaults;
  LogSettings log;
};

// Reads and validates a config file; all problems are collected in `diags`.
std::optional<Config> load_config(const std::string& path, Diagnostics& diags);

// Reads the user key named by the config (file or environment variable).
// Returns nothing and sets `error` when it is missing or empty.
std::optional<std::string> read_user_key(const ApiSettings& api, std::string& error);

bool is_valid_resolution(std::string_view r);

}  // namespace exportd
