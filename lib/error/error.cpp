#include "error/error.hpp"

#include <cerrno>
#include <cstring>
#include <ostream>

#include <boost/system/system_error.hpp>
#include <boost/throw_exception.hpp>

namespace exportd {

std::string_view to_string(Errc e) {
  switch (e) {
    case Errc::transport:
      return "transport";
    case Errc::overloaded:
      return "overloaded";
    case Errc::malformed:
      return "malformed";
    case Errc::unauthorized:
      return "unauthorized";
    case Errc::rejected:
      return "rejected";
    case Errc::tls:
      return "tls";
    case Errc::credentials:
      return "credentials";
    case Errc::invalid_input:
      return "invalid_input";
    case Errc::unreadable:
      return "unreadable";
    case Errc::write_failed:
      return "write_failed";
    case Errc::disk_full:
      return "disk_full";
    case Errc::stopping:
      return "stopping";
  }
  return "?";
}

Errc write_errc(int err) { return err == ENOSPC || err == EDQUOT ? Errc::disk_full : Errc::write_failed; }

bool is_storage_failure(const std::error_code& ec) {
  return ec == std::errc::no_space_on_device || ec == std::errc::io_error || ec == std::errc::read_only_file_system ||
         (ec.category() == std::system_category() && ec.value() == EDQUOT);
}

bool is_transient(Errc e) { return e == Errc::transport || e == Errc::overloaded || e == Errc::malformed; }

namespace {

class Category final : public boost::system::error_category {
 public:
  // A fixed id: two copies of the category (e.g. two shared objects) still compare equal.
  Category() noexcept : error_category(0x65787064'6f727464ULL) {}
  const char* name() const noexcept override { return "exportd"; }
  std::string message(int ev) const override { return std::string(to_string(static_cast<Errc>(ev))); }
};

}  // namespace

const boost::system::error_category& exportd_category() noexcept {
  static const Category category;
  return category;
}

boost::system::error_code make_error_code(Errc e) noexcept { return {static_cast<int>(e), exportd_category()}; }

std::string_view Failure::first_line() const {
  const std::string_view m = message;
  return m.substr(0, m.find('\n'));
}

Failure system_failure(int err, const std::string& what) {
  const std::string reason = std::strerror(err);
  return {boost::system::error_code(err, boost::system::system_category()),
          what.empty() ? reason : what + ": " + reason};
}

std::ostream& operator<<(std::ostream& os, const Failure& f) { return os << f.code.message() << ": " << f.message; }

void throw_exception_from_error(const Failure& f, const boost::source_location& where) {
  boost::throw_exception(boost::system::system_error(f.code, f.message), where);
}

std::ostream& operator<<(std::ostream& os, const JobError& e) {
  return os << to_string(e.kind) << " " << e.code << ": " << e.message;
}

void throw_exception_from_error(const JobError& e, const boost::source_location& where) {
  boost::throw_exception(boost::system::system_error(make_error_code(e.kind), e.code + ": " + e.message), where);
}

}  // namespace exportd
