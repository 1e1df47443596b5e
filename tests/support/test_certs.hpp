#pragma once

#include <string>

namespace exportd::testing {

// Writes a throwaway CA (ca.pem) and a server certificate signed by it
// (server.pem, server.key) for `host` into `dir`. An IP address becomes an
// IP SAN, a name a DNS SAN. Throws std::runtime_error on failure.
void make_test_certs(const std::string& dir, const std::string& host);

}  // namespace exportd::testing
