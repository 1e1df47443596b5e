#include <cstdio>
#include <stdexcept>

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "ops/supervisor.hpp"

namespace exportd {
namespace {

namespace asio = boost::asio;

std::string read_all(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string out;
  char buf[512];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  return out;
}

TEST(TaskSupervisor, ASpawnedTaskThatThrowsIsLoggedAndStopsTheDaemonNonZero) {
  std::FILE* out = std::tmpfile();
  Logger log({LogLevel::info, LogFormat::text}, out);
  int stops = 0, code = 0;
  std::string why;
  TaskSupervisor supervisor(log, [&](int c, const std::string& w) {
    ++stops;
    code = c;
    why = w;
  });
  asio::io_context io;
  asio::co_spawn(io, []() -> asio::awaitable<void> { co_return; }, supervisor.watch("status writer"));
  asio::co_spawn(
      io, []() -> asio::awaitable<void> { throw std::runtime_error("inotify read failed"); co_return; },
      supervisor.watch("drop watcher"));
  asio::co_spawn(
      io, []() -> asio::awaitable<void> { throw std::runtime_error("second failure"); co_return; },
      supervisor.watch("watchdog"));
  io.run();
  EXPECT_EQ(stops, 1) << "stopped once, for the first failure";
  EXPECT_EQ(code, 75);
  EXPECT_EQ(why, "drop watcher failed: inotify read failed");
  EXPECT_EQ(supervisor.failure(), why);
  const auto text = read_all(out);
  EXPECT_NE(text.find("error task_failed task=\"drop watcher\" error=\"drop watcher failed: inotify read failed\""),
            std::string::npos) << text;
  EXPECT_NE(text.find("task_failed task=watchdog"), std::string::npos) << "a later failure is logged too: " << text;
  EXPECT_EQ(text.find("status writer"), std::string::npos) << "a task that ends well says nothing";
  std::fclose(out);
}

}  // namespace
}  // namespace exportd
