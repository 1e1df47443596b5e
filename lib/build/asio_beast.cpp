// Asio's and Beast's own compiled code, built once here rather than inline
// in every translation unit that includes them (BOOST_ASIO_SEPARATE_COMPILATION
// and BOOST_BEAST_SEPARATE_COMPILATION are set for everything that links
// exportd_lib: lib/CMakeLists.txt). The templates each file instantiates are
// still its own; what moves here is the non-template part (the reactor,
// errors, SSL engine, the HTTP parser's basic pieces), which every Beast-heavy
// file used to compile again.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
