// exportd: bulk export of AI Studios video projects. This file only parses
// the command line and hands over to a command.

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <iterator>
#include <string_view>
#include <utility>

#include <boost/program_options.hpp>

#include "commands.hpp"

namespace po = boost::program_options;

namespace {

constexpr const char* usage = R"(usage:
  exportd run    -c CONFIG [--once] [--fresh] [--queue FILE]...
                     the daemon (until SIGTERM); --once: one batch, then exit;
                     --fresh: queue files start new batches, re-exporting jobs that already succeeded
  exportd check  -c CONFIG [JOBFILE]...    validate the config and job files
  exportd submit -c CONFIG JOBFILE...      validate, then drop atomically into the spool
  exportd status -c CONFIG [--json]        what the spool holds, per state
  exportd report -c CONFIG [--since 24h | --batch ID] [-o FILE]
                                           the morning report: one self-contained HTML page
  exportd --help | --version

exit codes: 0 ok; 1 a job failed or timed out (--once); 2 usage or invalid config/job file;
            3 the API refused the credentials; 75 temporary failure (API unreachable, state_dir unwritable)
)";

int usage_error(const std::string& message) {
  std::cerr << "exportd: " << message << "\n" << usage;
  return exportd::exit_usage;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    po::options_description top("exportd");
    top.add_options()("help,h", "show this help")("version,V", "show the version")(
        "command", po::value<std::string>(), "run | check | submit | status | report")("args", po::value<std::vector<std::string>>(), "");
    po::positional_options_description pos;
    pos.add("command", 1).add("args", -1);
    auto parsed = po::command_line_parser(argc, argv).options(top).positional(pos).allow_unregistered().run();
    po::variables_map vm;
    po::store(parsed, vm);
    if (vm.count("version")) {
      std::cout << "exportd " EXPORTD_VERSION "\n";
      return exportd::exit_ok;
    }
    if (vm.count("help") || !vm.count("command")) {
      std::cout << usage;
      return vm.count("help") ? exportd::exit_ok : exportd::exit_usage;
    }
    const auto word = vm["command"].as<std::string>();
    // The command word read once, into what it names.
    enum class Command : std::uint8_t { run, check, submit, status, report };
    static constexpr std::pair<std::string_view, Command> commands[] = {{"run", Command::run},
                                                                        {"check", Command::check},
                                                                        {"submit", Command::submit},
                                                                        {"status", Command::status},
                                                                        {"report", Command::report}};
    const auto* named = std::find_if(std::begin(commands), std::end(commands), [&](const auto& c) { return c.first == word; });
    if (named == std::end(commands)) return usage_error("unknown command '" + word + "'");
    const Command command = named->second;
    auto rest = po::collect_unrecognized(parsed.options, po::include_positional);
    rest.erase(rest.begin());  // the command itself

    po::options_description opts(word);
    opts.add_options()("config,c", po::value<std::string>()->required(), "config file");
    po::positional_options_description files;
    files.add("file", -1);
    switch (command) {
      case Command::run:
        opts.add_options()("once", "run one batch and exit")("fresh", "start new batches for queue files")(
            "queue", po::value<std::vector<std::string>>(), "an extra queue file");
        break;
      case Command::check:
      case Command::submit:
        opts.add_options()("file", po::value<std::vector<std::string>>(), "job file");
        break;
      case Command::status:
        opts.add_options()("json", "print JSON");
        break;
      case Command::report:
        opts.add_options()("since", po::value<std::string>(), "jobs that ended this long ago or later (24h)")(
            "batch", po::value<std::string>(), "one batch's jobs")("output,o", po::value<std::string>(),
                                                                  "the HTML file (standard output if not given)");
        break;
    }
    po::variables_map cvm;
    po::store(po::command_line_parser(rest).options(opts).positional(files).run(), cvm);
    po::notify(cvm);
    const auto config = cvm["config"].as<std::string>();
    std::vector<std::string> job_files;
    if (cvm.count("file")) job_files = cvm["file"].as<std::vector<std::string>>();
    if (command == Command::check) return exportd::check_command(config, job_files);
    if (command == Command::submit) return exportd::submit_command(config, job_files);
    if (command == Command::status) return exportd::status_command(config, cvm.count("json") > 0);
    if (command == Command::report) {
      if (cvm.count("since") && cvm.count("batch")) return usage_error("report: --since and --batch do not go together");
      const auto text = [&](const char* key) { return cvm.count(key) ? cvm[key].as<std::string>() : std::string(); };
      return exportd::report_command(config, text("since"), text("batch"), text("output"));
    }
    exportd::RunOptions run{config, cvm.count("once") > 0, cvm.count("fresh") > 0, {}};
    if (cvm.count("queue")) run.queues = cvm["queue"].as<std::vector<std::string>>();
    return exportd::run_command(run);
  } catch (const po::error& e) {
    return usage_error(e.what());
  } catch (const std::exception& e) {
    std::cerr << "exportd: " << e.what() << "\n";
    return exportd::exit_temporary;
  }
}
