#include "jobs/resume.hpp"

#include <charconv>

#include <boost/beast/core/string.hpp>

namespace exportd {

namespace {

std::optional<std::uint64_t> number(std::string_view& text) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end == text.data()) return std::nullopt;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  return v;
}

bool take(std::string_view& text, std::string_view prefix) {
  if (!text.starts_with(prefix)) return false;
  text.remove_prefix(prefix.size());
  return true;
}

// A strong ETag, else Last-Modified: what If-Range may carry. A weak ETag
// (W/"...") may not be used for ranges.
std::string validator_of(const ReplyHead& head) {
  if (!head.etag.empty() && !head.etag.starts_with("W/")) return head.etag;
  return head.last_modified;
}

Judgement verdict(Verdict v, std::string why) {
  Judgement j;
  j.verdict = v;
  j.why = std::move(why);
  return j;
}

}  // namespace

std::optional<ContentRange> parse_content_range(std::string_view text) {
  ContentRange r;
  if (!take(text, "bytes ")) return std::nullopt;
  auto first = number(text);
  if (!first || !take(text, "-")) return std::nullopt;
  auto last = number(text);
  if (!last || !take(text, "/")) return std::nullopt;
  auto total = number(text);
  if (!total || !text.empty() || *last < *first || *last >= *total) return std::nullopt;
  r.first = *first;
  r.last = *last;
  r.total = *total;
  return r;
}

ResumeHeaders resume_headers(const PartialFile& part) {
  if (part.bytes == 0 || part.validator.empty()) return {};
  return {"bytes=" + std::to_string(part.bytes) + "-", part.validator};
}

Judgement judge_reply(const PartialFile& part, const ReplyHead& head, std::uint64_t max_bytes) {
  const bool resuming = !resume_headers(part).range.empty();
  const bool body = head.status == 200 || head.status == 206;
  // Only identity is asked for (Accept-Encoding: identity): a gzip'd body
  // is not the video, and its digest would not be the video's.
  if (body && !head.content_encoding.empty() && !boost::beast::iequals(head.content_encoding, "identity"))
    return verdict(Verdict::fail, "the video host sent the video with Content-Encoding '" +
                                      head.content_encoding.substr(0, 32) + "', though only identity was asked for");
  const auto too_long = [&](std::uint64_t total) {
    auto j = verdict(Verdict::fail, "the video is " + std::to_string(total) + " bytes, over download.max_bytes (" +
                                        std::to_string(max_bytes) + ")");
    j.too_long = true;
    return j;
  };
  switch (head.status) {
    case 200: {
      // The whole video: either we asked for it, or the server ignored the
      // range or the video changed (If-Range did not match). Start over.
      if (head.content_length && *head.content_length > max_bytes) return too_long(*head.content_length);
      Judgement j;
      j.verdict = Verdict::write;
      j.offset = 0;
      j.total = head.content_length;
      j.validator = validator_of(head);
      return j;
    }
    case 206: {
      if (!resuming) return verdict(Verdict::restart, "a part (206) came for a request without a range");
      const auto range = parse_content_range(head.content_range);
      if (!range) return verdict(Verdict::restart, "206 without a usable Content-Range");
      if (range->first != part.bytes)
        return verdict(Verdict::restart, "206 for bytes from " + std::to_string(range->first) + ", not from " +
                                             std::to_string(part.bytes));
      if (range->last + 1 != range->total) return verdict(Verdict::restart, "206 that stops before the end");
      if (part.total && *part.total != range->total)
        return verdict(Verdict::restart, "the video's length changed from " + std::to_string(*part.total) + " to " +
                                             std::to_string(range->total));
      if (head.content_length && *head.content_length != range->last - range->first + 1)
        return verdict(Verdict::restart, "Content-Length does not match Content-Range");
      if (range->total > max_bytes) return too_long(range->total);
      const auto v = validator_of(head);
      if (!v.empty() && v != part.validator) return verdict(Verdict::restart, "206 for a different version of the video");
      Judgement j;
      j.verdict = Verdict::write;
      j.offset = part.bytes;
      j.total = range->total;
      j.validator = part.validator;
      return j;
    }
    case 416: {
      // Nothing left to send from there: complete if the length says so.
      std::string_view cr = head.content_range;
      std::uint64_t total = 0;
      if (take(cr, "bytes */")) {
        if (auto t = number(cr); t && cr.empty()) total = *t;
      }
      if (resuming && total > 0 && total == part.bytes && (!part.total || *part.total == total))
        return verdict(Verdict::complete, "");
      return verdict(Verdict::restart, "416: the range does not fit the video");
    }
    case 301:
    case 302:
    case 303:
    case 307:
    case 308:
      if (head.location.empty()) return verdict(Verdict::retry_later, std::to_string(head.status) + " without Location");
      return verdict(Verdict::redirect, "");
    case 401:
    case 403:
    case 404:  // a signed link some hosts answer 404 once it has expired
    case 410:
      return verdict(Verdict::refresh_link, "the link was refused (" + std::to_string(head.status) + ")");
    case 408:
    case 425:
    case 429:
      return verdict(Verdict::retry_later, "the video host answered " + std::to_string(head.status));
    default:
      if (head.status >= 500 && head.status <= 599)
        return verdict(Verdict::retry_later, "the video host answered " + std::to_string(head.status));
      return verdict(Verdict::fail, "the video host answered " + std::to_string(head.status));
  }
}

}  // namespace exportd
