#pragma once

// The command line of a benchmark program: --help prints its options, a
// word it does not know is one line on stderr and exit 2, never an
// uncaught exception.

#include <iostream>
#include <optional>

#include <boost/program_options.hpp>

namespace exportd::testing {

// Parses argv into `vm` (adding --help to `opts`). Nothing: go on; else the exit code.
inline std::optional<int> parse_bench_options(int argc, char** argv, boost::program_options::options_description& opts,
                                              boost::program_options::variables_map& vm) {
  namespace po = boost::program_options;
  if (!opts.find_nothrow("help", false)) opts.add_options()("help", "this help");
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    if (vm.count("help")) {
      std::cout << opts;
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << argv[0] << ": " << e.what() << " (see --help)\n";
    return 2;
  }
  return std::nullopt;
}

}  // namespace exportd::testing
