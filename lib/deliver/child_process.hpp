#pragma once

// A delivery command (SPEC §13) as a child process: an argv run without a
// shell, in a process group of its own, with the environment it is given
// and nothing else, stdin from /dev/null, stdout and stderr read into the
// last 4 KiB. At the timeout the whole group is killed (SIGKILL), and when
// the command itself exits, whatever it left running in its group is too:
// nothing it started outlives it (unless it leaves the group: setsid).
// Started with posix_spawnp; on the event loop a pidfd says when it exits
// and its output is read as it comes: nothing blocks.

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace exportd {

struct ChildEnd {
  enum class How : std::uint8_t {
    exited,       // `code` is its exit status
    signalled,    // `code` is the signal that ended it
    timed_out,    // killed at the timeout (with its group)
    not_started,  // fork or exec failed: `why`
    stopped,      // killed because exportd is stopping
  } how = How::not_started;
  int code = 0;
  std::string output;             // the last 4 KiB of what it wrote (stdout and stderr together)
  std::uint64_t output_bytes = 0;  // all it wrote
  std::string why;
  std::chrono::milliseconds took{0};
  bool ok() const { return how == How::exited && code == 0; }
};

inline constexpr std::size_t child_output_kept = 4096;

// The process groups of the commands running, so that exportd's stop kills them all.
class Children {
 public:
  explicit Children(boost::asio::any_io_executor ex) : ex_(std::move(ex)) {}
  Children(const Children&) = delete;
  Children& operator=(const Children&) = delete;
  ~Children() { kill_all(); }

  // Runs argv[0] (looked up in the PATH of `env`) with argv and exactly `env` (NAME=VALUE each).
  boost::asio::awaitable<ChildEnd> run(std::vector<std::string> argv, std::vector<std::string> env,
                                       std::chrono::milliseconds timeout);
  // SIGKILL to every group still running (exportd stops): each ends `stopped`.
  void kill_all();
  std::size_t running() const { return groups_.size(); }

 private:
  boost::asio::any_io_executor ex_;
  std::set<int> groups_;  // process group ids (= the command's pid)
  bool stopping_ = false;
};

}  // namespace exportd
