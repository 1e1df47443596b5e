#pragma once

// The config as plain values: what the policies and the engine read. No
// YAML here (config.hpp reads it), so a policy header stays light.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/endpoint.hpp"
#include "time/duration.hpp"
#include "ops/log_settings.hpp"

namespace exportd {

using namespace std::chrono_literals;

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
  // Sweeps (SPEC §8, schedule/sweep.hpp): one project-list call this often
  // while at least sweep_min_jobs jobs are polled (0: never).
  Millis sweep_every = 1s;
  std::uint32_t sweep_min_jobs = 30;
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
  // download.name while downloads are on ("" = off): every job's video file
  // name is made and checked when its job file is read.
  std::string download_name;
  // limits.max_rows: the rows a template job's CSV may hold (SPEC §12).
  std::uint32_t max_rows = 100'000;
};

inline constexpr std::uint64_t default_max_video_bytes = 64ull << 30;  // download.max_bytes: 64 GiB

// Downloading the finished videos (SPEC §10): off unless dir is set.
struct DownloadSettings {
  std::string dir;                        // absolute (a relative one is taken from the config's folder)
  std::string name = "{file}/{id}.mp4";   // below dir; {file}, {id}, {project_id}, {resolution}
  std::uint32_t max_concurrent = 4;       // downloads at once
  std::uint64_t max_bytes = default_max_video_bytes;  // a longer video is refused before a byte is written
  bool enabled() const { return !dir.empty(); }
};

// The webhook receiver (SPEC §9): off unless both listen and public_url are set.
struct WebhookSettings {
  std::string listen;      // HOST:PORT the receiver binds ([::1]:PORT for IPv6)
  std::string public_url;  // what the API is told; /hooks/<token> is appended
  Millis safety_poll = 10min;  // a hooked job with no word for this long is polled anyway
  bool enabled() const { return !listen.empty() && !public_url.empty(); }
};

// Delivery (SPEC §13): each finished job's video handed on by a command of
// the operator's; off unless command is set.
struct DeliverySettings {
  std::vector<std::string> command;  // argv, {placeholders} filled per argument; never a shell
  std::uint32_t max_concurrent = 2;  // deliveries at once
  Millis timeout = std::chrono::minutes(10);  // a run longer than this is killed with its process group
  std::vector<std::string> env;      // exportd's own variables passed on, besides PATH, HOME and LANG
  bool enabled() const { return !command.empty(); }
};

// /metrics (SPEC §11): off unless listen is set; never the webhook's port.
struct MetricsSettings {
  std::string listen;  // HOST:PORT
  bool enabled() const { return !listen.empty(); }
};

// What is kept under state_dir (SPEC §11), so a daemon that runs for a year
// does not fill its disk.
struct RetentionSettings {
  std::uint64_t results_max_size = 256ull << 20;  // results.jsonl is rotated past this
  std::uint32_t results_keep = 20;      // rotated results files kept, the oldest removed first (0 = all)
  std::uint32_t done_days = 30;         // done/, rejected/ and rotated results older than this are removed (0 = never)
  std::uint32_t done_max_files = 10000; // job files kept in done/ and in rejected/, the oldest removed first (0 = all)
};

// Where a setting was written in the config file (1-based).
struct SettingPlace {
  int line = 1;
  int column = 1;
};

struct Config {
  std::string path;  // the file it was read from
  // Where the settings the preflight checks on disk were written
  // ("api.user_key_file", "state_dir", "download.dir", ...): a problem with
  // one is reported at its FILE:LINE:COL. A setting left out is at 1:1.
  std::map<std::string, SettingPlace, std::less<>> places;
  SettingPlace place_of(std::string_view setting) const {
    const auto it = places.find(setting);
    return it == places.end() ? SettingPlace{} : it->second;
  }
  ApiSettings api;
  std::string state_dir = "/var/lib/exportd";
  std::vector<std::string> queue_files;  // absolute, or relative to the config's folder
  Limits limits;
  PollingSettings polling;
  RetrySettings retry;
  JobDefaults defaults;
  WebhookSettings webhook;
  DownloadSettings download;
  MetricsSettings metrics;
  RetentionSettings retention;
  LogSettings log;
  // report.path: the morning report (SPEC §14) written here after each
  // `run --once` ("" = not written; `exportd report` writes one any time).
  std::string report_path;
  DeliverySettings deliver;
};

}  // namespace exportd
