#pragma once

// How a video download resumes (SPEC §10), decided from what is on disk and
// what a reply's head says. Pure: the fetcher (fetch.hpp) does the I/O.
//
// A download writes NAME.part. Its validator (a strong ETag, else
// Last-Modified) is recorded before the first byte is written, so a resumed
// request can say If-Range: the server then sends the rest (206) only if the
// video is still the one the bytes on disk came from, and the whole video
// (200) otherwise.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

namespace exportd {

// What is on disk of a download under way.
struct PartialFile {
  std::uint64_t bytes = 0;             // in NAME.part
  std::string validator;               // what the bytes came with; "" = none (cannot resume)
  std::optional<std::uint64_t> total;  // the whole video's length, once a reply said
};

// A prefix of NAME.part vouched for: its length and digest in the journal.
// A restart keeps the part only up to here, and only if its bytes still
// hash to `sha256` (a machine crash may have lost them); what follows it is
// fetched again.
struct Checkpoint {
  std::uint64_t bytes = 0;
  std::string sha256;  // hex, of the first `bytes` bytes; "" when bytes is 0
  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

// The request's resume headers: both empty for a download from the start.
struct ResumeHeaders {
  std::string range;     // "bytes=N-"
  std::string if_range;  // the validator
};
ResumeHeaders resume_headers(const PartialFile& part);

// The head of a reply to a video request.
struct ReplyHead {
  int status = 0;
  std::optional<std::uint64_t> content_length;
  std::string content_range;  // as sent
  std::string etag;
  std::string last_modified;
  std::string location;          // for a redirect
  std::string content_encoding;  // as sent; "" or "identity" is the video itself
};

enum class Verdict {
  write,         // the body goes into NAME.part at `offset` (0: start over, truncating it)
  complete,      // what is on disk is the whole video already (416 for a range at its end)
  restart,       // the body is of no use (the range or validator does not fit): discard NAME.part, ask again
  redirect,      // follow `location`
  refresh_link,  // the link is refused (401, 403, 404, 410: expired, or signed for someone else): get a fresh one
  retry_later,   // the host is busy or failing (408, 425, 429, 5xx)
  fail,          // the request is wrong for good (other 4xx)
};

struct Judgement {
  Verdict verdict = Verdict::fail;
  std::uint64_t offset = 0;            // write: where the body starts
  std::optional<std::uint64_t> total;  // write: the whole video's length, if known
  std::string validator;               // write: what to record before the first byte ("" = cannot resume)
  std::string why;                     // restart, retry_later, fail: in words, for the log
  bool too_long = false;               // fail: the video is longer than max_bytes
};

// `max_bytes`: the largest video taken (download.max_bytes); a reply that
// says it is longer is refused before a byte is written.
Judgement judge_reply(const PartialFile& part, const ReplyHead& head,
                      std::uint64_t max_bytes = std::numeric_limits<std::uint64_t>::max());

// "bytes S-E/T" -> {S, E, T}; nothing when it is not that (or T is "*").
struct ContentRange {
  std::uint64_t first = 0, last = 0, total = 0;
};
std::optional<ContentRange> parse_content_range(std::string_view text);

// How one try of a download ended (fetch.hpp makes the tries; the job's
// state machine decides what comes next).
enum class FetchEnd : std::uint8_t {
  complete,      // NAME.part holds the whole video
  cut,           // the transfer stopped part-way (a closed connection, a timeout): resume
  refresh_link,  // the link was refused: a fresh one is needed
  retry_later,   // the host could not serve it now
  failed,        // it will not work however often it is tried (a bad link, a refused request, a local error)
  disk_full,     // NAME.part could not grow: no space (or quota) left
};

// Whether a try moved the download on: the part grew past the most it held
// before it. Bytes received do not count by themselves: a host that ignores
// Range and cuts at the same byte sends bytes every try and gets nowhere.
inline bool moved_on(std::uint64_t most_before, std::uint64_t part_after) { return part_after > most_before; }

}  // namespace exportd
