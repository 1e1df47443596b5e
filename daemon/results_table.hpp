#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace exportd {

// Prints the results.jsonl lines written since `offset` as a table.
void print_results_table(const std::string& results_path, std::uint64_t offset, std::FILE* out,
                         std::size_t max_rows = 60);

}  // namespace exportd
