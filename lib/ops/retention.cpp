#include "ops/retention.hpp"

#include <algorithm>
#include <ctime>
#include <filesystem>

#include <sys/stat.h>

namespace exportd {

std::vector<std::string> files_to_remove(std::vector<KeptFile> files, const KeepRule& rule,
                                         std::chrono::system_clock::time_point now) {
  std::sort(files.begin(), files.end(), [](const KeptFile& a, const KeptFile& b) {
    return a.modified != b.modified ? a.modified < b.modified : a.name < b.name;
  });
  std::size_t cut = 0;  // files [0, cut) go
  if (rule.max_age.count() > 0)
    while (cut < files.size() && now - files[cut].modified > rule.max_age) ++cut;
  if (rule.max_count > 0 && files.size() - cut > rule.max_count) cut = files.size() - rule.max_count;
  std::vector<std::string> out;
  out.reserve(cut);
  for (std::size_t i = 0; i < cut; ++i) out.push_back(std::move(files[i].name));
  return out;
}

std::string rotated_results_name(std::chrono::system_clock::time_point at) {
  const auto secs = std::chrono::system_clock::to_time_t(at);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
  char name[64];
  std::snprintf(name, sizeof name, "results-%s.%03dZ.jsonl", stamp, static_cast<int>(ms));
  return name;
}

bool is_rotated_results_name(const std::string& name) {
  // results-YYYYmmddTHHMMSS.mmmZ.jsonl, maybe with -N before .jsonl when two came in one millisecond.
  constexpr std::string_view head = "results-", tail = ".jsonl";
  if (name.size() < head.size() + 20 + tail.size()) return false;
  if (name.compare(0, head.size(), head) != 0) return false;
  if (name.compare(name.size() - tail.size(), tail.size(), tail) != 0) return false;
  const auto stamp = std::string_view(name).substr(head.size(), 20);
  for (std::size_t i = 0; i < stamp.size(); ++i) {
    const char c = stamp[i];
    const bool ok = i == 8 ? c == 'T' : i == 15 ? c == '.' : i == 19 ? c == 'Z' : c >= '0' && c <= '9';
    if (!ok) return false;
  }
  return true;
}

std::vector<std::string> rotated_results_in(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    auto name = e.path().filename().string();
    if (is_rotated_results_name(name)) names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::chrono::system_clock::time_point modified_at(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {};
  return std::chrono::system_clock::time_point(std::chrono::seconds(st.st_mtim.tv_sec) +
                                               std::chrono::nanoseconds(st.st_mtim.tv_nsec));
}

std::size_t remove_rotated_results(const std::string& dir, const KeepRule& rule,
                                   std::chrono::system_clock::time_point now) {
  std::vector<KeptFile> files;
  for (auto& name : rotated_results_in(dir)) {
    auto t = modified_at(dir + "/" + name);
    files.push_back({std::move(name), t});
  }
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& name : files_to_remove(std::move(files), rule, now))
    n += std::filesystem::remove(dir + "/" + name, ec);
  return n;
}

}  // namespace exportd
