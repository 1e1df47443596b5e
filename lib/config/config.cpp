#include "config/config.hpp"

#include "ops/delivery_command.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/asio/ip/address.hpp>

#include "ops/file_read.hpp"
#include "text/file_name.hpp"
#include "text/safe_text.hpp"

namespace exportd {

namespace fs = std::filesystem;

bool is_valid_resolution(std::string_view r) { return r == "4k" || r == "1080" || r == "720" || r == "480"; }

namespace {

std::string resolve_against(const std::string& base_file, const std::string& p) {
  if (p.empty() || fs::path(p).is_absolute()) return p;
  return (fs::path(base_file).parent_path() / p).lexically_normal().string();
}

// Notes where `key` of `m` was written, as `setting`, if it was.
void note_place(Config& c, const std::string& setting, const YamlMap& m, std::string_view key) {
  if (!m.has(key)) return;
  const auto mark = m.value_mark(key);
  c.places[setting] = {mark.line >= 0 ? mark.line + 1 : 1, mark.column >= 0 ? mark.column + 1 : 1};
}

void read_api(YamlMap& m, Config& c, Diagnostics& diags) {
  for (std::string_view key : {"user_key_file", "user_key_env", "user_key_credential", "ca_file"})
    note_place(c, "api." + std::string(key), m, key);
  ApiSettings& a = c.api;
  if (auto v = m.string("base_url")) a.base_url = *v;
  if (auto v = m.string("app_id")) a.app_id = *v;
  if (auto v = m.string("user_key_file")) a.user_key_file = *v;
  if (auto v = m.string("user_key_env")) a.user_key_env = *v;
  if (auto v = m.string("user_key_credential")) a.user_key_credential = *v;
  if (auto v = m.string("ca_file")) a.ca_file = *v;
  if (auto v = m.duration("request_timeout")) a.request_timeout = *v;
  if (auto v = m.duration("token_refresh_after")) a.token_refresh_after = *v;
  m.reject_unknown();

  if (a.app_id.empty()) diags.add(m.mark(), "api.app_id is required (your AI Studios appId)");
  if (!a.user_key_file.empty() + !a.user_key_env.empty() + !a.user_key_credential.empty() != 1)
    diags.add(m.mark(), "api: set exactly one of user_key_file, user_key_env or user_key_credential");
  if (a.user_key_credential.find('/') != std::string::npos)
    diags.add(m.value_mark("user_key_credential"), "api.user_key_credential is a credential name, not a path");
  a.user_key_file = resolve_against(c.path, a.user_key_file);
  a.ca_file = resolve_against(c.path, a.ca_file);
  if (a.request_timeout < 100ms)
    diags.add(m.value_mark("request_timeout"), "api.request_timeout must be at least 100ms");
  if (a.token_refresh_after < 1s) diags.add(m.mark(), "api.token_refresh_after must be at least 1s");
  if (auto ep = parse_endpoint(a.base_url))
    a.endpoint = *ep;
  else
    diags.add(m.value_mark("base_url"), "api.base_url: " + ep.error().message);
}

}  // namespace

std::optional<ListenAddress> parse_listen_address(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string host(text.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  else if (host.find(':') != std::string::npos)
    return std::nullopt;  // IPv6 needs its brackets
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  const auto port_text = text.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  const auto port = std::stoul(std::string(port_text));
  if (port == 0 || port > 65535) return std::nullopt;
  return ListenAddress{host, static_cast<std::uint16_t>(port)};
}

Result<Config> load_config(const std::string& path) {
  Diagnostics diags(path);
  auto doc = load_yaml_file(path, diags);
  if (!doc) return diags.failure();
  Config c;
  c.path = path;
  YamlMap top(*doc, "the config", diags);
  if (!top.valid()) return diags.failure();

  if (auto api = top.node("api")) {
    YamlMap m(*api, "api", diags);
    if (m.valid()) read_api(m, c, diags);
  } else {
    diags.add(top.mark(), "the config needs an 'api' section (base_url, app_id, user_key_file)");
  }
  if (auto v = top.string("state_dir")) c.state_dir = *v;
  note_place(c, "state_dir", top, "state_dir");
  c.state_dir = resolve_against(path, c.state_dir);
  if (auto v = top.string_list("queue_files"))
    for (auto& q : *v) c.queue_files.push_back(resolve_against(path, q));

  if (auto n = top.node("limits")) {
    YamlMap m(*n, "limits", diags);
    if (m.valid()) {
      if (auto v = m.unsigned_int("max_active_jobs", 1, 10'000'000))
        c.limits.max_active_jobs = static_cast<std::uint32_t>(*v);
      if (auto v = m.unsigned_int("max_connections", 1, 1024))
        c.limits.max_connections = static_cast<std::uint32_t>(*v);
      if (auto v = m.unsigned_int("requests_per_second", 0, 1'000'000))
        c.limits.requests_per_second = static_cast<std::uint32_t>(*v);
      if (auto v = m.unsigned_int("max_rows", 1, 10'000'000)) c.defaults.max_rows = static_cast<std::uint32_t>(*v);
      m.reject_unknown();
    }
  }
  if (auto n = top.node("polling")) {
    YamlMap m(*n, "polling", diags);
    if (m.valid()) {
      auto& p = c.polling;
      if (auto v = m.duration("first_poll_after")) p.first_poll_after = *v;
      if (auto v = m.duration("min_interval")) p.min_interval = *v;
      if (auto v = m.duration("max_interval")) p.max_interval = *v;
      if (auto v = m.duration("job_timeout")) p.job_timeout = *v;
      if (auto v = m.duration("sweep_every")) p.sweep_every = *v;
      if (auto v = m.unsigned_int("sweep_min_jobs", 0, 1'000'000)) p.sweep_min_jobs = static_cast<std::uint32_t>(*v);
      m.reject_unknown();
      if (p.min_interval < 100ms)
        diags.add(m.value_mark("min_interval"), "polling.min_interval must be at least 100ms");
      if (p.max_interval < p.min_interval)
        diags.add(m.value_mark("max_interval"), "polling.max_interval must not be below polling.min_interval");
      if (p.job_timeout < 1s) diags.add(m.value_mark("job_timeout"), "polling.job_timeout must be at least 1s");
      if (p.sweep_every.count() != 0 && p.sweep_every < 250ms)
        diags.add(m.value_mark("sweep_every"), "polling.sweep_every must be 0 (no sweeps) or at least 250ms");
    }
  }
  if (auto n = top.node("retry")) {
    YamlMap m(*n, "retry", diags);
    if (m.valid()) {
      auto& r = c.retry;
      if (auto v = m.unsigned_int("max_attempts", 1, 1000)) r.max_attempts = static_cast<std::uint32_t>(*v);
      if (auto v = m.duration("initial_backoff")) r.initial_backoff = *v;
      if (auto v = m.duration("max_backoff")) r.max_backoff = *v;
      m.reject_unknown();
      if (r.initial_backoff < 1ms) diags.add(m.mark(), "retry.initial_backoff must be at least 1ms");
      if (r.max_backoff < r.initial_backoff)
        diags.add(m.value_mark("max_backoff"), "retry.max_backoff must not be below retry.initial_backoff");
    }
  }
  if (auto n = top.node("defaults")) {
    YamlMap m(*n, "defaults", diags);
    if (m.valid()) {
      if (auto v = m.string("resolution")) {
        if (is_valid_resolution(*v))
          c.defaults.resolution = *v;
        else
          diags.add(m.value_mark("resolution"), "defaults.resolution: '" + *v + "' is not one of 4k, 1080, 720, 480");
      }
      if (auto v = m.string("workspace_id")) c.defaults.workspace_id = *v;
      if (auto v = m.string("webhook_url")) c.defaults.webhook_url = *v;
      m.reject_unknown();
    }
  }
  if (auto n = top.node("jobs")) {
    YamlMap m(*n, "jobs", diags);
    if (m.valid()) {
      if (auto v = m.string("scenes_root")) c.defaults.drop_scenes_root = resolve_against(path, *v);
      m.reject_unknown();
    }
  }
  if (auto n = top.node("webhook")) {
    YamlMap m(*n, "webhook", diags);
    if (m.valid()) {
      auto& w = c.webhook;
      if (auto v = m.string("listen")) {
        if (parse_listen_address(*v))
          w.listen = *v;
        else
          diags.add(m.value_mark("listen"),
                    "webhook.listen: '" + *v + "' is not HOST:PORT (an IP address and a port; [::1]:PORT for IPv6)");
      }
      if (auto v = m.string("public_url")) {
        // Plain http only to loopback, as for base_url: the hook carries the job's token.
        auto ep = parse_endpoint(*v);
        if (!ep)
          diags.add(m.value_mark("public_url"), "webhook.public_url: " + ep.error().message);
        else
          w.public_url = *v;
        while (!w.public_url.empty() && w.public_url.back() == '/') w.public_url.pop_back();
      }
      if (auto v = m.duration("safety_poll")) w.safety_poll = *v;
      m.reject_unknown();
      if (w.listen.empty() != w.public_url.empty())
        diags.add(m.mark(), "webhook: set both listen and public_url (or neither: the receiver is off)");
      if (w.safety_poll < 1s) diags.add(m.value_mark("safety_poll"), "webhook.safety_poll must be at least 1s");
    }
  }
  if (auto n = top.node("download")) {
    YamlMap m(*n, "download", diags);
    if (m.valid()) {
      auto& d = c.download;
      note_place(c, "download.dir", m, "dir");
      if (auto v = m.string("dir")) {
        if (v->empty() || has_control(*v))
          diags.add(m.value_mark("dir"), "download.dir is empty or holds control characters");
        else
          d.dir = resolve_against(path, *v);
      }
      if (auto v = m.string("name")) {
        if (const auto why = name_template_problem(*v); !why.empty())
          diags.add(m.value_mark("name"), "download.name '" + bounded_text(*v, 200) + "': " + why);
        else
          d.name = *v;
      }
      if (auto v = m.unsigned_int("max_concurrent", 1, 256)) d.max_concurrent = static_cast<std::uint32_t>(*v);
      if (auto v = m.byte_size("max_bytes")) {
        if (*v < 1024)
          diags.add(m.value_mark("max_bytes"), "download.max_bytes must be at least 1KiB");
        else
          d.max_bytes = *v;
      }
      m.reject_unknown();
      if (d.enabled()) c.defaults.download_name = d.name;
    }
  }
  if (auto n = top.node("metrics")) {
    YamlMap m(*n, "metrics", diags);
    if (m.valid()) {
      if (auto v = m.string("listen")) {
        if (v->empty() || parse_listen_address(*v))
          c.metrics.listen = *v;
        else
          diags.add(m.value_mark("listen"),
                    "metrics.listen: '" + *v +
                        "' is not HOST:PORT (an IP address and a port; [::1]:PORT for IPv6), or \"\" for off");
      }
      m.reject_unknown();
      if (c.metrics.enabled() && c.metrics.listen == c.webhook.listen)
        diags.add(m.value_mark("listen"),
                  "metrics.listen must not be webhook.listen: /metrics is never served to the API's hooks");
    }
  }
  if (auto n = top.node("report")) {
    YamlMap m(*n, "report", diags);
    if (m.valid()) {
      if (auto v = m.string("path")) {
        if (v->empty() || has_control(*v))
          diags.add(m.value_mark("path"), "report.path is empty or holds control characters");
        else
          c.report_path = resolve_against(path, *v);
      }
      m.reject_unknown();
    }
  }
  if (auto n = top.node("retention")) {
    YamlMap m(*n, "retention", diags);
    if (m.valid()) {
      auto& r = c.retention;
      if (auto v = m.byte_size("results_max_size")) {
        if (*v < 4096)
          diags.add(m.value_mark("results_max_size"), "retention.results_max_size must be at least 4KiB");
        else
          r.results_max_size = *v;
      }
      if (auto v = m.unsigned_int("results_keep", 0, 1'000'000)) r.results_keep = static_cast<std::uint32_t>(*v);
      if (auto v = m.unsigned_int("done_days", 0, 36'500)) r.done_days = static_cast<std::uint32_t>(*v);
      if (auto v = m.unsigned_int("done_max_files", 0, 100'000'000)) r.done_max_files = static_cast<std::uint32_t>(*v);
      m.reject_unknown();
    }
  }
  if (auto n = top.node("log")) {
    YamlMap m(*n, "log", diags);
    if (m.valid()) {
      if (auto v = m.string("level")) {
        if (*v == "debug")
          c.log.level = LogLevel::debug;
        else if (*v == "info")
          c.log.level = LogLevel::info;
        else if (*v == "warning")
          c.log.level = LogLevel::warning;
        else if (*v == "error")
          c.log.level = LogLevel::error;
        else
          diags.add(m.value_mark("level"), "log.level: '" + *v + "' is not one of debug, info, warning, error");
      }
      if (auto v = m.string("format")) {
        if (*v == "text")
          c.log.format = LogFormat::text;
        else if (*v == "json")
          c.log.format = LogFormat::json;
        else
          diags.add(m.value_mark("format"), "log.format: '" + *v + "' is not one of text, json");
      }
      m.reject_unknown();
    }
  }
  if (auto n = top.node("deliver")) {
    YamlMap m(*n, "deliver", diags);
    if (m.valid()) {
      auto& d = c.deliver;
      note_place(c, "deliver.command", m, "command");
      if (auto v = m.string_list("command")) {
        // Checked against download.dir below, wherever that section stands in the file.
        d.command = std::move(*v);
        if (const auto why = delivery_command_problem(d.command, true); !why.empty())
          diags.add(m.value_mark("command"), why);
      }
      if (auto v = m.unsigned_int("max_concurrent", 1, 64)) d.max_concurrent = static_cast<std::uint32_t>(*v);
      if (auto v = m.duration("timeout")) {
        if (v->count() <= 0)
          diags.add(m.value_mark("timeout"), "deliver.timeout must be more than 0s");
        else
          d.timeout = *v;
      }
      if (auto v = m.string_list("env")) {
        for (const auto& name : *v)
          if (!c.api.user_key_env.empty() && name == c.api.user_key_env)
            diags.add(m.value_mark("env"), "deliver.env must not pass " + name +
                                               ": it holds the user key, which no delivery command ever gets");
        d.env = std::move(*v);
      }
      m.reject_unknown();
      if (!d.command.empty() && !c.download.enabled()) {
        if (const auto why = delivery_command_problem(d.command, false); !why.empty())
          diags.add(m.value_mark("command"), why);
      }
    }
  }
  top.reject_unknown();
  if (!diags.empty()) return diags.failure();
  return c;
}

Result<std::string> read_user_key(const ApiSettings& api) {
  std::string key;
  ApiSettings from_credential;
  if (!api.user_key_credential.empty()) {
    const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
    if (dir == nullptr)
      return Failure{Errc::invalid_input,
                     "api.user_key_credential is set but CREDENTIALS_DIRECTORY is not: run under systemd with "
                     "LoadCredential=" +
                         api.user_key_credential + ":/path/to/key"};
    from_credential.user_key_file = std::string(dir) + "/" + api.user_key_credential;
    return read_user_key(from_credential);
  }
  if (!api.user_key_env.empty()) {
    const char* v = std::getenv(api.user_key_env.c_str());
    if (v == nullptr)
      return Failure{Errc::invalid_input,
                     "environment variable " + api.user_key_env + " (api.user_key_env) is not set"};
    key = v;
  } else {
    auto text = read_regular_file(api.user_key_file, max_key_file_bytes);
    if (!text)
      return Failure{text.error().code, "cannot read the user key file " + api.user_key_file +
                                            " (api.user_key_file): " + text.error().message};
    key = std::move(*text);
  }
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) key.pop_back();
  if (key.empty()) return Failure{Errc::invalid_input, "the user key (api.user_key_file / api.user_key_env) is empty"};
  return key;
}

}  // namespace exportd
