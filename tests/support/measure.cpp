#include "measure.hpp"

#include "ops/time_format.hpp"

#include <algorithm>
#include <cstdlib>
#include <ctime>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace exportd::testing {

std::int64_t parse_rfc3339_ms(const std::string& s) {
  const auto t = parse_rfc3339(s);
  return t ? std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count() : 0;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

std::uint16_t free_loopback_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

}  // namespace exportd::testing
