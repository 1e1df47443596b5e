#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "auth/token_source.hpp"
#include "manual_time.hpp"
#include "scripted_transport.hpp"

namespace exportd {
namespace {

namespace asio = boost::asio;
using testing::ok_json;
using testing::ScriptedTransport;

struct Fixture {
  asio::io_context io;
  int issued = 0;
  bool refuse = false;
  ScriptedTransport transport{[this](const ApiRequest& r, std::string_view) -> ApiResult<HttpReply> {
    EXPECT_EQ(r.call, ApiCall::token);
    if (refuse) return HttpReply{200, R"({"success":false,"error":{"code":"E1","msg":"invalid userKey"}})", ""};
    return ok_json(R"({"token":"tok-)" + std::to_string(++issued) + "\"}");
  }};
  testing::ManualTime time;
  TokenSource tokens{io.get_executor(), transport, ApiEndpoint{}, "app", "key", std::chrono::hours(23), time};

  std::vector<ApiResult<std::string>> get_many(int n) {
    std::vector<ApiResult<std::string>> out(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
      asio::co_spawn(
          io, [&, i]() -> asio::awaitable<void> { out[static_cast<std::size_t>(i)] = co_await tokens.get(); },
          asio::detached);
    io.run_for(std::chrono::seconds(5));
    io.restart();
    return out;
  }
};

TEST(TokenSource, ManyWaitersShareOneFetch) {
  Fixture f;
  auto got = f.get_many(100);
  EXPECT_EQ(f.transport.count(ApiCall::token), 1u);
  for (const auto& g : got) EXPECT_EQ(g.value(), "tok-1");
}

TEST(TokenSource, ARefusedTokenIsRenewedOnceForEverybody) {
  Fixture f;
  f.get_many(1);
  // Fifty calls that used tok-1 come back refused together.
  for (int i = 0; i < 50; ++i) f.tokens.reject("tok-1");
  auto got = f.get_many(50);
  EXPECT_EQ(f.transport.count(ApiCall::token), 2u);
  for (const auto& g : got) EXPECT_EQ(g.value(), "tok-2");
  // A late refusal of the old token does not throw away the new one.
  f.tokens.reject("tok-1");
  f.get_many(10);
  EXPECT_EQ(f.transport.count(ApiCall::token), 2u);
}

TEST(TokenSource, RefusedCredentialsReachEveryWaiterAsOneError) {
  Fixture f;
  f.refuse = true;
  auto got = f.get_many(20);
  EXPECT_EQ(f.transport.count(ApiCall::token), 1u);
  for (const auto& g : got) {
    ASSERT_TRUE(g.has_error());
    EXPECT_EQ(g.error().kind, Errc::credentials);
  }
}

TEST(TokenSource, TheUserKeyTravelsOnlyInTheTokenRequestBody) {
  Fixture f;
  f.get_many(1);
  ASSERT_EQ(f.transport.calls.size(), 1u);
  EXPECT_TRUE(f.transport.calls[0].token.empty());  // no Authorization on the token call
}

}  // namespace
}  // namespace exportd
