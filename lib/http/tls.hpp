#pragma once

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <openssl/ssl.h>

namespace exportd {

// A client TLS context that always verifies the peer: the system CA store,
// plus `ca_file` when given. Throws std::runtime_error naming the file on a
// bad bundle.
std::shared_ptr<boost::asio::ssl::context> make_client_tls_context(const std::string& ca_file);

// Arms one connection for `host`: SNI, and certificate name checking against
// the host name or IP address. Returns false if OpenSSL refused.
bool prepare_tls_session(SSL* ssl, const std::string& host);

// Why verification failed, in OpenSSL's words ("hostname mismatch", ...).
std::string verify_failure_reason(SSL* ssl);

}  // namespace exportd
