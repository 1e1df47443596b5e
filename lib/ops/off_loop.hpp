#pragma once

// Work that must not hold up the event loop (parsing a large file, reading a
// disk): carried out on a thread pool, its result handed back on the loop.

#include <type_traits>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace exportd {

// Runs `work()` on `pool` and resumes the awaiting coroutine on its own
// executor with the result. `work` must not touch what the loop owns.
template <class Work>
boost::asio::awaitable<std::invoke_result_t<Work&>> off_loop(boost::asio::thread_pool& pool, Work work) {
  using Value = std::invoke_result_t<Work&>;
  namespace asio = boost::asio;
  return asio::async_initiate<decltype(asio::use_awaitable), void(Value)>(
      [&pool](auto handler, Work work) {
        asio::post(pool, [work = std::move(work), handler = std::move(handler)]() mutable {
          Value value = work();
          auto back = asio::get_associated_executor(handler);  // the event loop
          asio::post(back, [handler = std::move(handler), value = std::move(value)]() mutable {
            std::move(handler)(std::move(value));
          });
        });
      },
      asio::use_awaitable, std::move(work));
}

}  // namespace exportd
