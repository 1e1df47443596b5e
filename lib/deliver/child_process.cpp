#include "deliver/child_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>

#include <fcntl.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace exportd {

namespace asio = boost::asio;

namespace {

constexpr auto as_tuple = asio::as_tuple(asio::use_awaitable);

// What the reader and the waiter share.
struct Run {
  std::string tail;
  std::uint64_t bytes = 0;
  bool timed_out = false;
  bool read_done = false;
};

void keep_tail(Run& run, const char* data, std::size_t n) {
  run.bytes += n;
  run.tail.append(data, n);
  if (run.tail.size() > 2 * child_output_kept) run.tail.erase(0, run.tail.size() - child_output_kept);
}

// Starts the command: its own process group, stdin from /dev/null, stdout
// and stderr into `out`, no other descriptor of ours, default signal
// dispositions and an empty mask. Its pid, or errno.
int spawn(char* const* argv, char* const* envp, int out, pid_t& pid) {
  posix_spawn_file_actions_t files;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&files);
  ::posix_spawnattr_init(&attr);
  ::posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&files, out, 1);
  ::posix_spawn_file_actions_adddup2(&files, out, 2);
  ::posix_spawn_file_actions_addclosefrom_np(&files, 3);
  sigset_t none, all;
  ::sigemptyset(&none);
  ::sigfillset(&all);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  ::posix_spawnattr_setpgroup(&attr, 0);
  ::posix_spawnattr_setsigmask(&attr, &none);
  ::posix_spawnattr_setsigdefault(&attr, &all);
  // argv[0] is looked up in exportd's PATH, which is the one the command gets.
  const int rc = ::posix_spawnp(&pid, argv[0], &files, &attr, argv, envp);
  ::posix_spawnattr_destroy(&attr);
  ::posix_spawn_file_actions_destroy(&files);
  return rc;
}

}  // namespace

asio::awaitable<ChildEnd> Children::run(std::vector<std::string> argv, std::vector<std::string> env,
                                        std::chrono::milliseconds timeout) {
  ChildEnd end;
  const auto started = std::chrono::steady_clock::now();
  if (argv.empty() || stopping_) {
    end.why = stopping_ ? "exportd is stopping" : "no command";
    end.how = stopping_ ? ChildEnd::How::stopped : ChildEnd::How::not_started;
    co_return end;
  }
  std::vector<char*> args, envs;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  for (auto& e : env) envs.push_back(e.data());
  envs.push_back(nullptr);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    end.why = std::string("pipe: ") + std::strerror(errno);
    co_return end;
  }
  pid_t pid = -1;
  const int spawned = spawn(args.data(), envs.data(), pipe_fds[1], pid);
  ::close(pipe_fds[1]);
  if (spawned != 0) {
    ::close(pipe_fds[0]);
    end.why = "cannot run " + argv[0] + ": " + std::strerror(spawned);
    co_return end;
  }
  groups_.insert(pid);
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));  // Linux 5.3; -1 before

  auto run = std::make_shared<Run>();
  auto ex = co_await asio::this_coro::executor;
  asio::posix::stream_descriptor output(ex, pipe_fds[0]);
  asio::steady_timer read_over(ex, std::chrono::steady_clock::time_point::max());
  // The output, read as it comes, until every writer has closed it.
  asio::co_spawn(
      ex,
      [run, &output, &read_over]() -> asio::awaitable<void> {
        char buf[16 * 1024];
        for (;;) {
          auto [ec, n] = co_await output.async_read_some(asio::buffer(buf), as_tuple);
          if (n > 0) keep_tail(*run, buf, n);
          if (ec) break;
        }
        run->read_done = true;
        read_over.cancel();
      },
      asio::detached);
  // The timeout: the whole group is killed.
  asio::steady_timer deadline(ex, timeout);
  deadline.async_wait([run, pid](boost::system::error_code ec) {
    if (ec) return;
    run->timed_out = true;
    ::kill(-pid, SIGKILL);
  });

  int status = 0;
  if (pidfd >= 0) {
    asio::posix::stream_descriptor exited(ex, pidfd);
    co_await exited.async_wait(asio::posix::stream_descriptor::wait_read, as_tuple);
    ::waitpid(pid, &status, 0);
  } else {  // no pidfd (an old kernel): ask every 50 ms
    asio::steady_timer tick(ex);
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      tick.expires_after(std::chrono::milliseconds(50));
      co_await tick.async_wait(as_tuple);
    }
  }
  deadline.cancel();
  ::kill(-pid, SIGKILL);  // what it left running in its group goes with it
  groups_.erase(pid);
  // The rest of its output; a process that left the group and holds the pipe is not waited for long.
  if (!run->read_done) {
    read_over.expires_after(std::chrono::seconds(2));
    co_await read_over.async_wait(as_tuple);
  }
  output.close();
  if (!run->read_done) {  // let the reader see the close before `output` goes
    read_over.expires_after(std::chrono::seconds(5));
    co_await read_over.async_wait(as_tuple);
  }

  end.output = run->tail.size() > child_output_kept ? run->tail.substr(run->tail.size() - child_output_kept) : run->tail;
  end.output_bytes = run->bytes;
  end.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  if (run->timed_out) {
    end.how = ChildEnd::How::timed_out;
  } else if (stopping_) {
    end.how = ChildEnd::How::stopped;
  } else if (WIFEXITED(status)) {
    end.how = ChildEnd::How::exited;
    end.code = WEXITSTATUS(status);
  } else {
    end.how = ChildEnd::How::signalled;
    end.code = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }
  co_return end;
}

void Children::kill_all() {
  stopping_ = true;
  for (const int group : groups_) ::kill(-group, SIGKILL);
}

}  // namespace exportd
