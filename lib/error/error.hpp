#pragma once

// exportd's one error convention. A step that can fail returns
// `Result<T>` (boost::system::result with a `Failure`), or, for an API call,
// `ApiResult<T>` (api/wire.hpp) whose `ApiError` carries the HTTP details.
// Both name an `Errc` from the "exportd" category; an OS error keeps its own
// (system) category. Exceptions are left for broken infrastructure: they are
// caught at the top of each spawned task (ops/supervisor.hpp).

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include <boost/assert/source_location.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

namespace exportd {

enum class Errc : std::uint8_t {
  // What a failed API call means (api/wire.hpp classifies every reply).
  transport = 1,  // connect, reset, timeout: transient
  overloaded,     // HTTP 408, 429 or 5xx: transient
  malformed,      // a reply that is not the envelope (HTML page, empty, wrong types): transient
  unauthorized,   // 401/403 or an error a fresh token cures: renew, then replay
  rejected,       // success:false about this request: permanent for the job
  tls,            // certificate verification failed: fatal, the config must change
  credentials,    // the token call refused appId/userKey: fatal, no job is to blame
  // What a failed local step means.
  invalid_input,  // a config, job or scenes file (or URL) that breaks the contract; the message says where
  unreadable,     // a file that cannot be read as one: missing, not a regular file, too large
  write_failed,   // a durable write or rename failed (read-only, I/O error)
  disk_full,      // ... because the disk is full (ENOSPC, EDQUOT): waits for space, nothing lost
  stopping,       // exportd is stopping: the step was not carried out (it resumes at the next start)
};

std::string_view to_string(Errc e);
// A failure that may pass by itself: the call is tried again later.
bool is_transient(Errc e);

const boost::system::error_category& exportd_category() noexcept;
boost::system::error_code make_error_code(Errc e) noexcept;

// A failed local step: what kind, and a message for the operator (one
// line per problem, each naming the file and where in it when it can).
struct Failure {
  boost::system::error_code code;
  std::string message;

  Failure() = default;
  Failure(boost::system::error_code c, std::string m) : code(c), message(std::move(m)) {}
  Failure(Errc e, std::string m) : code(make_error_code(e)), message(std::move(m)) {}

  bool is(Errc e) const { return code == make_error_code(e); }
  // The first line of the message (a file's first problem), for a log line.
  std::string_view first_line() const;

  friend bool operator==(const Failure&, const Failure&) = default;
};
std::ostream& operator<<(std::ostream& os, const Failure& f);  // tests print results

// What a failed write's errno means: disk_full (ENOSPC, EDQUOT: space may
// be freed, nothing is lost by waiting) or write_failed.
Errc write_errc(int err);
// An error of the disk itself (full, I/O error, read-only): state cannot be
// kept, so a step that meets it stops exportd rather than go on unsaved.
bool is_storage_failure(const std::error_code& ec);

// An OS call failed with `err` (an errno value): the system's code, and
// "what: reason" (the reason alone when `what` is empty).
Failure system_failure(int err, const std::string& what = {});

template <class T>
using Result = boost::system::result<T, Failure>;

// result::value() on a failure: the message travels with the exception.
[[noreturn]] void throw_exception_from_error(const Failure& f, const boost::source_location& where);

// Why a job failed, as its event, its journal record and its results line
// carry it: an API reply's failure (api/wire.hpp: job_error) or the job's
// own (a scenes file, a download, the deadline). ApiError stays for what an
// API reply said; this is what the job is left with.
struct JobError {
  Errc kind = Errc::rejected;
  std::string code;     // results.jsonl error.code: the API's, or ours ("scenes_file", "timed_out")
  std::string message;  // results.jsonl error.message
  int http_status = 0;  // the reply's, when an API reply caused it

  friend bool operator==(const JobError&, const JobError&) = default;
};
std::ostream& operator<<(std::ostream& os, const JobError& e);  // tests print results
[[noreturn]] void throw_exception_from_error(const JobError& e, const boost::source_location& where);

}  // namespace exportd

template <>
struct boost::system::is_error_code_enum<exportd::Errc> : std::true_type {};
