#include "text/safe_text.hpp"

#include <algorithm>
#include <cstdint>

namespace exportd {

namespace {

// Length of the well-formed UTF-8 sequence at s[i], or 0 (RFC 3629 table).
std::size_t sequence_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const auto c = b(0);
  if (c < 0x80) return 1;
  const auto rest = s.size() - i;
  const auto cont = [&](std::size_t k) { return k < rest && (b(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (rest < 2) return 0;
    const auto c1 = b(1);
    if (c == 0xE0 && c1 < 0xA0) return 0;   // overlong
    if (c == 0xED && c1 > 0x9F) return 0;   // surrogates
    return cont(1) && cont(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (rest < 2) return 0;
    const auto c1 = b(1);
    if (c == 0xF0 && c1 < 0x90) return 0;   // overlong
    if (c == 0xF4 && c1 > 0x8F) return 0;   // above U+10FFFF
    return cont(1) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

bool is_c1(std::string_view s, std::size_t i, std::size_t n) {
  return n == 2 && static_cast<unsigned char>(s[i]) == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0;
}

constexpr std::string_view replacement = "\xEF\xBF\xBD";

}  // namespace

bool is_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto n = sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string to_utf8(std::string_view s) {
  if (is_utf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  for (std::size_t i = 0; i < s.size();) {
    const auto n = sequence_length(s, i);
    if (n == 0) {
      out += replacement;
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string bounded_text(std::string_view s, std::size_t max_bytes) {
  const bool bounded = max_bytes != std::string_view::npos;
  std::string out;
  out.reserve(bounded ? std::min(s.size(), max_bytes) + 4 : s.size());
  for (std::size_t i = 0; i < s.size() && !(bounded && out.size() > max_bytes);) {
    auto n = sequence_length(s, i);
    if (n == 0) {
      out += replacement;
      n = 1;
    } else if ((n == 1 && (static_cast<unsigned char>(s[i]) < 0x20 || s[i] == 0x7F)) || is_c1(s, i, n)) {
      out += '?';
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  if (!bounded || out.size() <= max_bytes) return out;
  std::size_t cut = max_bytes >= 3 ? max_bytes - 3 : 0;
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
  out.resize(cut);
  if (max_bytes >= 3) out += "...";
  return out;
}

bool has_control(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7F) return true;
  return false;
}

bool is_token_text(std::string_view s, std::size_t max_bytes) {
  if (s.empty() || s.size() > max_bytes) return false;
  for (unsigned char c : s)
    if (c < 0x21 || c > 0x7E) return false;
  return true;
}

bool is_lower_hex(std::string_view s, std::size_t digits) {
  return s.size() == digits && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

void redact(std::string& text, std::string_view secret) {
  if (secret.empty()) return;
  constexpr std::string_view mark = "[redacted]";
  for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + mark.size()))
    text.replace(at, secret.size(), mark);
}

void redact_hook_tokens(std::string& text) {
  // "hooks" then a separator as a URL, a JSON string or a percent-encoded
  // URL may write it, then the token: 32 hex digits (hooks/hook_keys.hpp).
  constexpr std::string_view seps[] = {"/", "\\/", "%2F", "%2f"};
  constexpr std::size_t token_chars = 32;
  constexpr std::string_view mark = "[redacted]";
  for (auto at = text.find("hooks"); at != std::string::npos; at = text.find("hooks", at + 1)) {
    auto from = at + 5;
    const auto sep = std::find_if(std::begin(seps), std::end(seps),
                                  [&](std::string_view s) { return text.compare(from, s.size(), s) == 0; });
    if (sep == std::end(seps)) continue;
    from += sep->size();
    std::size_t n = 0;
    while (from + n < text.size() && std::isxdigit(static_cast<unsigned char>(text[from + n])) != 0) ++n;
    if (n >= token_chars) text.replace(from, n, mark);
  }
}

std::string html_escaped(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace exportd
