#pragma once

// Text that crosses a trust boundary (API replies, file names, job files)
// is checked or made safe here before it reaches a log line, the journal,
// results.jsonl, a terminal or a header. Pure functions, no I/O.

#include <cstddef>
#include <string>
#include <string_view>

namespace exportd {

// Whole string is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool is_utf8(std::string_view s);

// `s` with every ill-formed UTF-8 sequence replaced by U+FFFD, so that any
// JSON it goes into can be read back.
std::string to_utf8(std::string_view s);

// For API text that is logged or stored: valid UTF-8, control characters
// (C0, DEL, C1) replaced by '?', cut to at most `max_bytes` on a character
// boundary (with "..." when cut).
std::string bounded_text(std::string_view s, std::size_t max_bytes);

// The same with no bound: what may be written to a terminal.
inline std::string terminal_safe(std::string_view s) { return bounded_text(s, std::string_view::npos); }

// `&`, `<`, `>`, `"` and `'` as HTML entities (a clip's script, the report's text).
std::string html_escaped(std::string_view text);

// True when `s` holds a control character (C0 or DEL).
bool has_control(std::string_view s);

// A value that may go into an HTTP header as it is: 1..max_bytes visible
// ASCII characters (0x21-0x7E), nothing that could end the line.
bool is_token_text(std::string_view s, std::size_t max_bytes);

// Exactly `digits` lowercase hex digits: a digest or a token as exportd writes them.
bool is_lower_hex(std::string_view s, std::size_t digits);

// Every occurrence of `secret` in `text` replaced by "[redacted]".
void redact(std::string& text, std::string_view secret);

// Every webhook token (".../hooks/TOKEN", also JSON-escaped or
// percent-encoded) in `text` replaced by "[redacted]": an API that quotes a
// request quotes its webhookUrl, and a live token lets anyone end a job's wait.
void redact_hook_tokens(std::string& text);

// A secret long enough to cut out of a whole reply body before it is parsed
// (a shorter one could match the JSON itself; it is cut from the messages only).
inline constexpr std::size_t min_secret_to_redact_in_bodies = 16;

// Limits on what the API may hand us (the README lists them).
inline constexpr std::size_t max_api_message_bytes = 512;  // error.msg as logged and stored
inline constexpr std::size_t max_api_code_bytes = 64;      // error.code
inline constexpr std::size_t max_id_bytes = 256;           // a project id
inline constexpr std::size_t max_token_bytes = 8192;       // the API token
inline constexpr std::size_t max_url_bytes = 8192;         // a download link

}  // namespace exportd
