#include "ops/delivery_command.hpp"

#include <algorithm>

namespace exportd {

namespace {

const std::string* value_of(const DeliveryValues& v, std::string_view name) {
  if (name == "file_path") return &v.file_path;
  if (name == "download_url") return &v.download_url;
  if (name == "file") return &v.file;
  if (name == "id") return &v.id;
  if (name == "project_id") return &v.project_id;
  if (name == "sha256") return &v.sha256;
  if (name == "bytes") return &v.bytes;
  return nullptr;
}

// Each {name} in `arg`, in order.
std::vector<std::string_view> names_in(std::string_view arg) {
  std::vector<std::string_view> out;
  for (auto open = arg.find('{'); open != std::string_view::npos; open = arg.find('{', open + 1)) {
    const auto close = arg.find('}', open);
    if (close == std::string_view::npos) break;
    out.push_back(arg.substr(open + 1, close - open - 1));
    open = close;
  }
  return out;
}

}  // namespace

std::string delivery_command_problem(const std::vector<std::string>& command, bool downloads) {
  if (command.empty() || command.front().empty()) return "deliver.command needs a program to run: [program, arg, ...]";
  for (const auto& arg : command)
    for (const auto name : names_in(arg)) {
      if (value_of(DeliveryValues{}, name) == nullptr) {
        std::string known;
        for (const auto p : delivery_placeholders) known += (known.empty() ? "{" : ", {") + std::string(p) + "}";
        return "{" + std::string(name) + "} is not a placeholder deliver.command knows (" + known + ")";
      }
      if (name == "file_path" && !downloads)
        return "{file_path} needs downloads on (download.dir): without them a job has only its {download_url}";
    }
  return "";
}

std::vector<std::string> delivery_argv(const std::vector<std::string>& command, const DeliveryValues& v) {
  std::vector<std::string> out;
  out.reserve(command.size());
  for (const auto& arg : command) {
    std::string filled;
    std::size_t from = 0;
    for (auto open = arg.find('{'); open != std::string::npos; open = arg.find('{', from)) {
      const auto close = arg.find('}', open);
      if (close == std::string::npos) break;
      const auto* value = value_of(v, std::string_view(arg).substr(open + 1, close - open - 1));
      filled.append(arg, from, open - from);
      if (value != nullptr)
        filled += *value;
      else
        filled.append(arg, open, close - open + 1);  // not ours: left as written (refused at config time anyway)
      from = close + 1;
    }
    filled.append(arg, from);
    out.push_back(std::move(filled));
  }
  return out;
}

std::vector<std::string> delivery_env(const DeliveryValues& v, const std::vector<std::string>& pass,
                                      const EnvLookup& lookup) {
  std::vector<std::string> out;
  std::vector<std::string> names{"PATH", "HOME", "LANG"};
  for (const auto& p : pass)
    if (std::find(names.begin(), names.end(), p) == names.end()) names.push_back(p);
  for (const auto& name : names) {
    if (name.rfind("EXPORTD_", 0) == 0) continue;  // ours, set below
    if (auto value = lookup(name)) out.push_back(name + "=" + *value);
  }
  out.push_back("EXPORTD_FILE_PATH=" + v.file_path);
  out.push_back("EXPORTD_DOWNLOAD_URL=" + v.download_url);
  out.push_back("EXPORTD_FILE=" + v.file);
  out.push_back("EXPORTD_ID=" + v.id);
  out.push_back("EXPORTD_PROJECT_ID=" + v.project_id);
  out.push_back("EXPORTD_SHA256=" + v.sha256);
  out.push_back("EXPORTD_BYTES=" + v.bytes);
  out.push_back("EXPORTD_DELIVERY_ID=" + v.delivery_id);
  return out;
}

}  // namespace exportd
