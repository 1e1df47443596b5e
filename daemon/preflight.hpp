#pragma once

// What `exportd check` and `exportd run` make sure of before anything
// starts, like `nginx -t`: everything that can be known without an API call.
// The user key readable (its content never printed), state_dir and
// download.dir creatable and writable (tried, not guessed from permission
// bits: root passes those everywhere), api.ca_file a CA bundle OpenSSL
// loads. The listen addresses were checked when the config was read. Each
// problem is one FILE:LINE:COL line at the setting that caused it.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "config/settings.hpp"

namespace exportd {

struct Preflight {
  // What a run starts with, once every check passed.
  std::string user_key;
  std::shared_ptr<boost::asio::ssl::context> tls;  // the system store plus api.ca_file
  // Problems, FILE:LINE:COL: text, one per line. A config problem stops a
  // run with exit 2; a folder problem with 75 (a volume not mounted yet may
  // be there at the next start).
  std::vector<std::string> config_problems;
  std::vector<std::string> folder_problems;
  // What could not be checked here, and how to check it (`check` only).
  std::vector<std::string> notes;
  bool ok() const { return config_problems.empty() && folder_problems.empty(); }
};

// `check`: what only the service's own environment provides (a systemd
// credential) is noted, not held against the config; `run` needs it.
enum class PreflightFor : std::uint8_t { check, run };
Preflight preflight(const Config& config, PreflightFor purpose);

// Why `dir` cannot be used as a folder exportd writes in ("" when it can):
// it exists and a file can be made in it, or it can be made (the nearest
// folder that exists takes a new folder). Nothing is left behind.
std::string folder_problem(const std::string& dir);

}  // namespace exportd
