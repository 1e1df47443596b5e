// Delivery commands as child processes (SPEC §13): what a hostile or broken
// command cannot do to exportd — hang past its timeout, flood it with
// output, leave children behind, see more environment than it was given.

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "deliver/child_process.hpp"
#include "workspace.hpp"

namespace exportd {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

const std::vector<std::string> plain_env{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"};

ChildEnd run(Children& children, asio::io_context& io, std::vector<std::string> argv,
             std::chrono::milliseconds timeout = 30s, std::vector<std::string> env = plain_env) {
  auto f = asio::co_spawn(io, children.run(std::move(argv), std::move(env), timeout), asio::use_future);
  io.restart();
  io.run_for(120s);
  if (f.wait_for(0s) != std::future_status::ready) {  // bounded: never wait on a command that did not end
    ADD_FAILURE() << "the command had not ended after 120 s";
    children.kill_all();
    io.restart();
    io.run_for(10s);
  }
  return f.get();
}

// Whether the process with this pid is gone (or a zombie nobody waits for... not counted as running).
bool gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return true;
  const auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z';
}

std::vector<pid_t> pids_in(const std::string& path) {
  std::vector<pid_t> out;
  std::ifstream in(path);
  for (pid_t p; in >> p;) out.push_back(p);
  return out;
}

TEST(ChildProcess, AnExitAndItsOutputAreTold) {
  asio::io_context io;
  Children children(io.get_executor());
  auto end = run(children, io, {"sh", "-c", "echo out; echo err >&2; exit 0"});
  EXPECT_TRUE(end.ok());
  EXPECT_EQ(end.output, "out\nerr\n");
  end = run(children, io, {"sh", "-c", "echo failing; exit 3"});
  EXPECT_EQ(end.how, ChildEnd::How::exited);
  EXPECT_EQ(end.code, 3);
  EXPECT_FALSE(end.ok());
  end = run(children, io, {"no-such-command-exportd"});
  EXPECT_EQ(end.how, ChildEnd::How::not_started);
  EXPECT_NE(end.why.find("No such file"), std::string::npos) << end.why;
}

TEST(ChildProcess, AHangIsKilledAtTheTimeoutWithItsChildren) {
  testing::Workspace ws("child-hang");
  asio::io_context io;
  Children children(io.get_executor());
  const auto pids = ws.path("pids");
  const auto started = std::chrono::steady_clock::now();
  const auto end = run(children, io, {"sh", "-c", "sleep 600 & echo $! > " + pids + "; echo $$ >> " + pids + "; wait"},
                       500ms);
  EXPECT_EQ(end.how, ChildEnd::How::timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 60s);
  const auto left = pids_in(pids);
  ASSERT_EQ(left.size(), 2u);
  // SIGKILL is sent to the group at the timeout; a killed process is gone once the kernel has
  // run its exit, which a loaded machine (ASan, a parallel build) may take a while to do.
  for (const auto p : left) {
    for (int i = 0; i < 500 && !gone(p); ++i) std::this_thread::sleep_for(20ms);
    EXPECT_TRUE(gone(p)) << "pid " << p << " outlived the timeout by 10 s";
  }
  EXPECT_EQ(children.running(), 0u);
}

TEST(ChildProcess, AChildThatOutlivesItsCommandIsKilledWithIt) {
  testing::Workspace ws("child-orphan");
  asio::io_context io;
  Children children(io.get_executor());
  const auto pids = ws.path("pids");
  const auto end = run(children, io, {"sh", "-c", "sleep 600 >/dev/null 2>&1 & echo $! > " + pids + "; exit 0"});
  EXPECT_TRUE(end.ok());
  const auto left = pids_in(pids);
  ASSERT_EQ(left.size(), 1u);
  for (int i = 0; i < 500 && !gone(left[0]); ++i) std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(gone(left[0])) << "the command's child outlived it by 10 s";
}

TEST(ChildProcess, MegabytesOfOutputAreReadAndOnlyTheLastFourKiBKept) {
  asio::io_context io;
  Children children(io.get_executor());
  const auto end = run(children, io, {"sh", "-c", "head -c 52428800 /dev/zero | tr '\\0' x; echo; echo the end"});
  EXPECT_TRUE(end.ok());
  EXPECT_EQ(end.output_bytes, 52428800u + 1 + 8);
  EXPECT_EQ(end.output.size(), child_output_kept);
  EXPECT_EQ(end.output.substr(end.output.size() - 8), "the end\n");
}

TEST(ChildProcess, TheCommandSeesOnlyTheEnvironmentItIsGiven) {
  ::setenv("EXPORTD_TEST_SECRET", "do-not-pass", 1);
  asio::io_context io;
  Children children(io.get_executor());
  const auto end = run(children, io, {"env"}, 30s, {"PATH=/usr/bin:/bin", "EXPORTD_FILE=a b'c\"d.mp4"});
  ::unsetenv("EXPORTD_TEST_SECRET");
  EXPECT_TRUE(end.ok());
  EXPECT_EQ(end.output, "PATH=/usr/bin:/bin\nEXPORTD_FILE=a b'c\"d.mp4\n");
}

TEST(ChildProcess, StoppingKillsEveryGroupStillRunning) {
  asio::io_context io;
  Children children(io.get_executor());
  auto f = asio::co_spawn(io, children.run({"sleep", "600"}, plain_env, 600s), asio::use_future);
  io.run_for(300ms);
  EXPECT_EQ(children.running(), 1u);
  children.kill_all();
  io.run_for(30s);
  ASSERT_EQ(f.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(f.get().how, ChildEnd::How::stopped);
  EXPECT_EQ(children.running(), 0u);
}

}  // namespace
}  // namespace exportd
