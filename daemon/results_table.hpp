#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace exportd {

// Prints the results lines written since `offset` of the first file, through
// the rest of `files` (results.jsonl rotated during the run, then the current one), as a table.
void print_results_table(const std::vector<std::string>& files, std::uint64_t offset, std::FILE* out,
                         std::size_t max_rows = 60);

}  // namespace exportd
