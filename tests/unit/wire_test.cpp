#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "api/endpoint.hpp"
#include "api/wire.hpp"

namespace exportd {
namespace {

namespace json = boost::json;
const auto now = std::chrono::system_clock::from_time_t(1'700'000'000);  // 2023-11-14T22:13:20Z

ApiEndpoint endpoint(const char* url) {
  auto ep = parse_endpoint(url);
  EXPECT_TRUE(ep) << ep.error();
  return ep ? *ep : ApiEndpoint{};
}

TEST(Endpoint, HttpsWithDefaultsAndPrefix) {
  auto ep = endpoint("https://app.aistudios.com");
  EXPECT_TRUE(ep.tls);
  EXPECT_EQ(ep.port, 443);
  EXPECT_EQ(ep.host_header(), "app.aistudios.com");
  ep = endpoint("https://gw.example.com:8443/proxy/");
  EXPECT_EQ(ep.port, 8443);
  EXPECT_EQ(ep.base_path, "/proxy");
  EXPECT_EQ(ep.host_header(), "gw.example.com:8443");
}

TEST(Endpoint, PlainHttpOnlyForLoopback) {
  EXPECT_FALSE(endpoint("http://127.0.0.1:8080").tls);
  EXPECT_EQ(endpoint("http://[::1]:9000").host, "::1");
  endpoint("http://localhost");
  const auto plain = parse_endpoint("http://app.aistudios.com");
  ASSERT_FALSE(plain);
  EXPECT_TRUE(plain.error().is(Errc::invalid_input));
  EXPECT_NE(plain.error().message.find("refused"), std::string::npos);
  EXPECT_FALSE(parse_endpoint("ftp://x"));
  // Issue 25, H08: the port is read whole, never wrapped to 16 bits.
  for (const auto* bad : {"http://127.0.0.1:65616", "http://127.0.0.1:0", "http://127.0.0.1:99999999999999999999",
                          "https://h.example:-1/v", "https://h.example:1e3/"})
    EXPECT_FALSE(parse_endpoint(bad)) << bad;
  EXPECT_EQ(endpoint("http://127.0.0.1:65535").port, 65535);
  EXPECT_EQ(endpoint("https://h.example:/").port, 443) << "an empty port is the scheme's";
  EXPECT_FALSE(parse_endpoint("not a url"));
}

TEST(Requests, TokenExportCreateProgress) {
  const auto ep = endpoint("https://app.aistudios.com");
  auto t = token_request(ep, "app", "key");
  EXPECT_EQ(t.target, "/api/odin/v3/auth/token");
  EXPECT_FALSE(t.authorized);
  EXPECT_EQ(json::parse(t.body), json::parse(R"({"appId":"app","userKey":"key"})"));

  ExportOrder job;
  job.project_id = "65fa";
  job.resolution = "4k";
  job.webhook_url = "https://h";
  auto e = export_request(ep, job);
  EXPECT_EQ(e.method, boost::beast::http::verb::post);
  EXPECT_EQ(e.target, "/api/odin/v3/editor/project/export");
  EXPECT_TRUE(e.authorized);
  EXPECT_EQ(json::parse(e.body), json::parse(R"({"projectId":"65fa","resolution":"4k","webhookUrl":"https://h"})"));

  job.name = "Welcome";
  job.orientation = "portrait";
  auto c = create_request(ep, job, json::parse(R"([{"sceneIdx":0,"background":{},"clips":[]}])"));
  EXPECT_EQ(c.target, "/api/odin/v3/editor/project");
  const auto body = json::parse(c.body).as_object();
  EXPECT_EQ(body.at("isExport"), true);
  EXPECT_EQ(body.at("name"), "Welcome");
  EXPECT_EQ(body.at("scenes").as_array().size(), 1u);

  auto p = progress_request(ep, "a b/c");
  EXPECT_EQ(p.method, boost::beast::http::verb::get);
  EXPECT_EQ(p.target, "/api/odin/v3/editor/progress/a%20b%2Fc");
}

struct EnvelopeCase {
  int status;
  std::string body;
  std::string retry_after;
  bool ok;
  Errc kind;
  std::string code;
};

TEST(Envelope, EveryReplyIsDataOrAClassifiedError) {
  const std::vector<EnvelopeCase> cases = {
      {200, R"({"success":true,"data":{"projectId":"p"}})", "", true, {}, ""},
      {401, R"({"success":false,"error":{"code":401,"msg":"expired"}})", "", false, Errc::unauthorized, "401"},
      {403, "", "", false, Errc::unauthorized, "http_403"},
      {429, R"({"success":false})", "2", false, Errc::overloaded, "http_429"},
      {408, "", "", false, Errc::overloaded, "http_408"},
      {503, "<html>down</html>", "", false, Errc::overloaded, "http_503"},
      {200, "<html>proxy login</html>", "", false, Errc::malformed, "bad_reply"},
      {200, "", "", false, Errc::malformed, "bad_reply"},
      {200, "[1,2]", "", false, Errc::malformed, "bad_reply"},
      {200, R"({"data":{}})", "", false, Errc::malformed, "bad_reply"},
      {200, R"({"success":"yes","data":{}})", "", false, Errc::malformed, "bad_reply"},
      {200, R"({"success":true,"data":[]})", "", false, Errc::malformed, "bad_reply"},
      {200, R"({"success":false})", "", false, Errc::malformed, "bad_reply"},
      {404, R"({"success":true,"data":{}})", "", false, Errc::malformed, "bad_reply"},
      {200, R"({"success":false,"error":{"code":"PROJECT_NOT_FOUND","msg":"no such project"}})", "", false,
       Errc::rejected, "PROJECT_NOT_FOUND"},
      {200, R"({"success":false,"error":{"code":1003,"msg":"bad resolution"}})", "", false, Errc::rejected, "1003"},
      {200, R"({"success":false,"error":{"code":"TokenExpired","msg":"the token has expired"}})", "", false,
       Errc::unauthorized, "TokenExpired"},
      {400, R"({"success":false,"error":{"code":"E400","msg":"invalid"}})", "", false, Errc::rejected, "E400"},
  };
  for (const auto& c : cases) {
    auto r = parse_envelope({c.status, c.body, c.retry_after}, now);
    EXPECT_EQ(r.has_value(), c.ok) << c.status << " " << c.body;
    if (r) continue;
    const auto error = r.error();
    const auto* e = &error;
    EXPECT_EQ(e->kind, c.kind) << c.status << " " << c.body << " -> " << to_string(e->kind);
    EXPECT_EQ(e->code, c.code) << c.body;
    EXPECT_EQ(e->http_status, c.status);
    EXPECT_FALSE(e->message.empty());
  }
}

TEST(Envelope, RejectionKeepsTheApiMessage) {
  auto r = parse_envelope({200, R"({"success":false,"error":{"code":"X","msg":"project is locked"}})", ""}, now);
  EXPECT_EQ(r.error().message, "project is locked");
}

TEST(Envelope, RetryAfterIsCarried) {
  auto r = parse_envelope({429, "", "7"}, now);
  EXPECT_EQ(r.error().retry_after, Millis(7000));
}

TEST(RetryAfter, SecondsAndHttpDate) {
  EXPECT_EQ(parse_retry_after("120", now), Millis(120'000));
  EXPECT_EQ(parse_retry_after(" 3 ", now), Millis(3000));
  EXPECT_EQ(parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now), Millis(30'000));
  EXPECT_EQ(parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now), Millis(0));  // in the past
  EXPECT_FALSE(parse_retry_after("", now));
  EXPECT_FALSE(parse_retry_after("soon", now));
  EXPECT_FALSE(parse_retry_after("-5", now));
  EXPECT_EQ(parse_retry_after("999999999", now), Millis(86'400'000));  // capped at a day
}

TEST(Replies, TokenSubmitProgress) {
  auto t = parse_token_reply({200, R"({"success":true,"data":{"token":"abc"}})", ""}, now);
  EXPECT_EQ(t.value().token, "abc");
  auto bad = parse_token_reply({200, R"({"success":false,"error":{"code":"X","msg":"invalid userKey"}})", ""}, now);
  EXPECT_EQ(bad.error().kind, Errc::credentials);
  auto bad401 = parse_token_reply({401, "", ""}, now);
  EXPECT_EQ(bad401.error().kind, Errc::credentials);
  auto down = parse_token_reply({503, "", ""}, now);
  EXPECT_EQ(down.error().kind, Errc::overloaded);
  auto empty = parse_token_reply({200, R"({"success":true,"data":{}})", ""}, now);
  EXPECT_EQ(empty.error().kind, Errc::malformed);

  auto s = parse_submit_reply({200, R"({"success":true,"data":{"projectId":"new-id"}})", ""}, now);
  EXPECT_EQ(s.value().project_id, "new-id");
  // Accepted without an id: handed on empty (the job decides; it is never sent again).
  auto s2 = parse_submit_reply({200, R"({"success":true,"data":{}})", ""}, now);
  EXPECT_TRUE(s2.value().project_id.empty());

  auto p = parse_progress_reply({200, R"({"success":true,"data":{"progress":42.5,"state":"exporting"}})", ""}, now);
  EXPECT_DOUBLE_EQ(p.value().progress, 42.5);
  EXPECT_TRUE(p.value().download_url.empty());
  auto done1 = parse_progress_reply(
      {200, R"({"success":true,"data":{"progress":100,"downloadUrl":"https://cdn.example.com/u1"}})", ""}, now);
  EXPECT_EQ(done1.value().download_url, "https://cdn.example.com/u1");
  auto done2 = parse_progress_reply(
      {200, R"({"success":true,"data":{"progress":"100","download_url":"https://cdn.example.com/u2"}})", ""}, now);
  EXPECT_EQ(done2.value().download_url, "https://cdn.example.com/u2");
  EXPECT_DOUBLE_EQ(done2.value().progress, 100.0);
  auto relative =
      parse_progress_reply({200, R"({"success":true,"data":{"progress":100,"downloadUrl":"u1"}})", ""}, now);
  EXPECT_EQ(relative.error().kind, Errc::malformed);  // not a link we may follow
  auto over = parse_progress_reply({200, R"({"success":true,"data":{"progress":250}})", ""}, now);
  EXPECT_EQ(over.error().kind, Errc::malformed);  // past 100 is no progress value
  auto failed = parse_progress_reply({200, R"({"success":true,"data":{"progress":3,"state":"FAILED"}})", ""}, now);
  EXPECT_TRUE(failed.value().failed_state());
  auto wrong = parse_progress_reply({200, R"({"success":true,"data":{"progress":true}})", ""}, now);
  EXPECT_EQ(wrong.error().kind, Errc::malformed);
  auto missing = parse_progress_reply({200, R"({"success":true,"data":{"state":"x"}})", ""}, now);
  EXPECT_EQ(missing.error().kind, Errc::malformed);
}

}  // namespace
}  // namespace exportd

namespace exportd {
namespace {

// The list's paging is undocumented: the common spellings are read, and a
// next page named by path is followed only under the list's own path.
TEST(ProjectList, PagingIsReadInItsCommonSpellingsAndANextPageOnlyUnderTheListsPath) {
  const std::string list = "/api/odin/v3/editor/project";
  const auto page = [&](const char* text) {
    return read_project_list_page(json::parse(text).as_object(), list);
  };
  auto p = page(R"({"items":[{"id":"a","state":"exported"},{"id":"b"}],"total":120,"page":2,"size":50})");
  ASSERT_EQ(p.items.size(), 2u);
  EXPECT_EQ(p.paging.total, 120u);
  EXPECT_EQ(p.paging.page, 2u);
  EXPECT_EQ(p.paging.size, 50u);
  p = page(R"({"content":[{"id":"a"}],"totalElements":"7","pageNumber":0,"pageSize":1,"last":false})");
  EXPECT_EQ(p.paging.total, 7u);
  EXPECT_EQ(p.paging.page, 0u);
  EXPECT_EQ(p.paging.more, true);
  EXPECT_EQ(page(R"({"items":[],"next":3})").paging.next_page, 3u);
  EXPECT_EQ(page(R"({"items":[],"hasMore":false})").paging.more, false);
  EXPECT_EQ(page(R"({"items":[],"next":"/api/odin/v3/editor/project?cursor=x1"})").paging.next_target,
            list + "?cursor=x1");
  EXPECT_EQ(page(R"({"items":[],"next":"https://app.aistudios.com/api/odin/v3/editor/project?page=2"})")
                .paging.next_target,
            list + "?page=2");
  EXPECT_EQ(page(R"({"items":[],"next":"?cursor=y"})").paging.next_target, list + "?cursor=y");
  // Elsewhere, or not text that may be sent: not followed.
  EXPECT_EQ(page(R"({"items":[],"next":"/api/odin/v3/auth/token?x"})").paging.next_target, "");
  EXPECT_EQ(page(R"({"items":[],"next":"/api/odin/v3/editor/projects"})").paging.next_target, "");
  EXPECT_EQ(page(R"({"items":[],"next":"/api/odin/v3/editor/project?a=\r\nX: 1"})").paging.next_target, "");
  EXPECT_EQ(page(R"({"items":[],"total":-4,"page":"x"})").paging.total, std::nullopt);
}

TEST(Requests, AListPageIsAskedForByNumberAndSizeOrByTheNextPath) {
  const auto ep = endpoint("https://app.aistudios.com");
  EXPECT_EQ(list_projects_request(ep).target, "/api/odin/v3/editor/project");
  EXPECT_EQ(list_projects_request(ep, {2, 50, ""}).target, "/api/odin/v3/editor/project?page=2&size=50");
  EXPECT_EQ(list_projects_request(ep, {3, 0, ""}).target, "/api/odin/v3/editor/project?page=3");
  EXPECT_EQ(list_projects_request(ep, {0, 0, "/api/odin/v3/editor/project?cursor=x"}).target,
            "/api/odin/v3/editor/project?cursor=x");
}

}  // namespace
}  // namespace exportd
