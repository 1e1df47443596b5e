#pragma once

// What is kept under state_dir (SPEC §11): rotated results files, and the
// job files in done/ and rejected/, are removed once they are older than a
// number of days or beyond a count, oldest first. The choice is pure
// (files and their times in, names out); the folder walk and the removal
// are thin wrappers around it.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace exportd {

struct KeptFile {
  std::string name;
  std::chrono::system_clock::time_point modified;
};

struct KeepRule {
  std::chrono::system_clock::duration max_age{};  // zero: no age limit
  std::uint32_t max_count = 0;                    // 0: no count limit
};

// The names to remove: those older than max_age, then the oldest beyond max_count.
std::vector<std::string> files_to_remove(std::vector<KeptFile> files, const KeepRule& rule,
                                         std::chrono::system_clock::time_point now);

// "results-20261126T041500.123Z.jsonl": a rotated results file's name, which sorts by time.
std::string rotated_results_name(std::chrono::system_clock::time_point at);
bool is_rotated_results_name(const std::string& name);

// The rotated results files in `dir`, oldest first.
std::vector<std::string> rotated_results_in(const std::string& dir);
// Removes the rotated results files in `dir` that `rule` does not keep; how many.
std::size_t remove_rotated_results(const std::string& dir, const KeepRule& rule,
                                   std::chrono::system_clock::time_point now);
// When a file was last written (the epoch if it cannot be read).
std::chrono::system_clock::time_point modified_at(const std::string& path);

}  // namespace exportd
