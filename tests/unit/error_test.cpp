#include <cerrno>

#include <gtest/gtest.h>

#include <boost/system/system_error.hpp>

#include "api/wire.hpp"
#include "error/error.hpp"

namespace exportd {
namespace {

TEST(Errors, EveryCodeHasANameInTheExportdCategory) {
  for (int v = static_cast<int>(Errc::transport); v <= static_cast<int>(Errc::stopping); ++v) {
    const auto ec = make_error_code(static_cast<Errc>(v));
    EXPECT_STREQ(ec.category().name(), "exportd");
    EXPECT_NE(ec.message(), "?") << v;
    EXPECT_TRUE(ec.failed());
  }
  // An enum value converts to an error_code and compares equal to its own code only.
  const boost::system::error_code ec = Errc::overloaded;
  EXPECT_EQ(ec, Errc::overloaded);
  EXPECT_NE(ec, Errc::transport);
  EXPECT_NE(ec, boost::system::error_code(static_cast<int>(Errc::overloaded), boost::system::system_category()));
}

TEST(Errors, OnlyTransportOverloadAndMalformedRepliesPassByThemselves) {
  EXPECT_TRUE(is_transient(Errc::transport));
  EXPECT_TRUE(is_transient(Errc::overloaded));
  EXPECT_TRUE(is_transient(Errc::malformed));
  for (auto e : {Errc::unauthorized, Errc::rejected, Errc::tls, Errc::credentials, Errc::invalid_input,
                 Errc::unreadable, Errc::write_failed, Errc::disk_full, Errc::stopping})
    EXPECT_FALSE(is_transient(e)) << to_string(e);
}

TEST(Errors, AFailureKeepsItsCodeAndMessageAndThrowsThemFromValue) {
  Result<int> r = Failure{Errc::invalid_input, "a.yaml:3:5: bad\na.yaml:7:1: worse"};
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::invalid_input));
  EXPECT_EQ(r.error().first_line(), "a.yaml:3:5: bad");
  try {
    (void)r.value();
    FAIL() << "value() of a failure returned";
  } catch (const boost::system::system_error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_input);
    EXPECT_NE(std::string(e.what()).find("a.yaml:3:5: bad"), std::string::npos) << e.what();
  }
}

TEST(Errors, AnApiErrorNamesItsKindAsAnErrorCode) {
  ApiResult<int> r = ApiError{Errc::overloaded, 503, "http_503", "busy", std::nullopt};
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error_code(), Errc::overloaded);
  EXPECT_THROW((void)r.value(), boost::system::system_error);
}

// Which write errors wait for space and which stop exportd.
TEST(Errors, AFullDiskIsToldApartFromOtherWriteErrors) {
  EXPECT_EQ(write_errc(ENOSPC), Errc::disk_full);
  EXPECT_EQ(write_errc(EDQUOT), Errc::disk_full);
  EXPECT_EQ(write_errc(EIO), Errc::write_failed);
  EXPECT_EQ(write_errc(EACCES), Errc::write_failed);
  EXPECT_TRUE(is_storage_failure(std::make_error_code(std::errc::no_space_on_device)));
  EXPECT_TRUE(is_storage_failure(std::error_code(EDQUOT, std::system_category())));
  EXPECT_TRUE(is_storage_failure(std::make_error_code(std::errc::read_only_file_system)));
  EXPECT_TRUE(is_storage_failure(std::make_error_code(std::errc::io_error)));
  EXPECT_FALSE(is_storage_failure(std::make_error_code(std::errc::permission_denied))) << "a file of the operator's";
  EXPECT_FALSE(is_transient(Errc::stopping));
  EXPECT_EQ(to_string(Errc::disk_full), "disk_full");
}

}  // namespace
}  // namespace exportd
