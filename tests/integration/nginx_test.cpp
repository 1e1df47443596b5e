// The README's nginx block, run for real: nginx terminates TLS (the test
// CA) in front of exportd's webhook receiver, and the simulator's hooks
// reach exportd through it.

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "measure.hpp"
#include "process.hpp"
#include "simulator.hpp"
#include "spool_driver.hpp"
#include "test_certs.hpp"
#include "workspace.hpp"

namespace exportd {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::run_once;
using testing::Workspace;

void replace(std::string& text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  ASSERT_NE(at, std::string::npos) << "the contrib block no longer has: " << from;
  text.replace(at, from.size(), to);
}

const char* nginx_binary() {
  for (const char* p : {"/usr/sbin/nginx", "/usr/bin/nginx"})
    if (fs::exists(p)) return p;
  return nullptr;
}

TEST(Nginx, HooksThroughTlsAndTheProxyEndTheJobs) {
  const char* nginx = nginx_binary();
  ASSERT_NE(nginx, nullptr) << "nginx is installed by scripts/install-deps (nginx-light)";
  Workspace ws("nginx-hooks");
  fs::create_directories(ws.path("tls"));
  testing::make_test_certs(ws.path("tls"), "localhost");
  const auto public_port = testing::free_loopback_port();
  const auto listen_port = testing::free_loopback_port();

  // The contrib block, with this test's name, port, certificate and receiver.
  std::string block = Workspace::read(std::string(EXPORTD_SOURCE_DIR) + "/contrib/nginx/exportd-webhook.conf");
  replace(block, "listen 443 ssl;", "listen 127.0.0.1:" + std::to_string(public_port) + " ssl;");
  replace(block, "server_name exports.example.com;", "server_name localhost;");
  replace(block, "/etc/ssl/certs/exports.example.com.pem", ws.path("tls/server.pem"));
  replace(block, "/etc/ssl/private/exports.example.com.key", ws.path("tls/server.key"));
  replace(block, "proxy_pass http://127.0.0.1:8710;", "proxy_pass http://127.0.0.1:" + std::to_string(listen_port) + ";");
  ws.write("nginx/exportd-webhook.conf", block);
  fs::create_directories(ws.path("nginx/tmp"));
  ws.write("nginx/nginx.conf",
           "daemon off;\nmaster_process off;\nworker_processes 1;\npid " + ws.path("nginx/nginx.pid") +
               ";\nerror_log " + ws.path("nginx/error.log") + " info;\nevents { worker_connections 64; }\n"
               "http {\n  access_log " + ws.path("nginx/access.log") + ";\n"
               "  client_body_temp_path " + ws.path("nginx/tmp") + ";\n  proxy_temp_path " + ws.path("nginx/tmp") +
               ";\n  fastcgi_temp_path " + ws.path("nginx/tmp") + ";\n  uwsgi_temp_path " + ws.path("nginx/tmp") +
               ";\n  scgi_temp_path " + ws.path("nginx/tmp") + ";\n  include " + ws.path("nginx/exportd-webhook.conf") +
               ";\n}\n");
  ChildProcess proxy({nginx, "-p", ws.path("nginx"), "-c", ws.path("nginx/nginx.conf")});
  ASSERT_TRUE(testing::wait_until(
      [&] {
        asio::io_context io;
        asio::ip::tcp::socket s(io);
        boost::system::error_code ec;
        s.connect({asio::ip::make_address("127.0.0.1"), public_port}, ec);
        return !ec;
      },
      30s))
      << Workspace::read(ws.path("nginx/error.log"));

  sim::Knobs k;
  k.export_min = 1000ms;
  k.export_max = 2000ms;
  k.hook_method = "mixed";
  k.hook_ca_file = ws.path("tls/ca.pem");
  sim::Simulator sim(k);
  ws.write_config(sim.port(), false, "demo-key",
                  "limits:\n  requests_per_second: 0\nwebhook:\n  listen: 127.0.0.1:" + std::to_string(listen_port) +
                      "\n  public_url: https://localhost:" + std::to_string(public_port) +
                      "/exportd\n  safety_poll: 10m\n");
  ws.write_export_jobs("q.yaml", 20, "n");
  auto r = run_once(ws, 120s, {"--queue", ws.path("q.yaml")});
  ASSERT_EQ(r.exit_code, 0) << r.err << Workspace::read(ws.path("nginx/error.log"));
  const auto s = sim.stats();
  for (const auto& line : ws.results()) EXPECT_EQ(line.at("status").as_string(), "succeeded");
  EXPECT_EQ(ws.results().size(), 20u);
  EXPECT_GE(s.hooks_ok, 20u) << "hooks through nginx: " << s.hooks_failed << " failed, " << s.hooks_refused
                             << " refused\n" << Workspace::read(ws.path("nginx/error.log"));
  const double calls = static_cast<double>(s.export_requests + s.progress_requests) / 20.0;
  std::cout << "[ figures  ] through nginx: " << calls << " API calls per job, " << s.hooks_ok << " hooks\n";
  EXPECT_LE(calls, 2.2);
  EXPECT_EQ(Workspace::read(ws.path("nginx/access.log")).find("/hooks/"), std::string::npos)
      << "nginx logged a hook's path, token and all";
  proxy.signal(SIGTERM);
  proxy.wait(10s);
}

}  // namespace
}  // namespace exportd
