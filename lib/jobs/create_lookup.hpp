#pragma once

// Exactly one project per create job (README: "How failures are handled").
// A create is not idempotent: a second one is a second project, a second
// render, a second credit. So a create that may have reached the API is
// never sent again until a lookup in the project list has shown, on a list
// that is readable and complete, that its tag is not there. Pure code: the
// rule that says whether a failed create may have taken effect, the tag,
// and the lookup as a machine (a page in, the next page or a verdict out).

#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "api/wire.hpp"

namespace exportd {

// Whether a create call that failed with `e` may have made a project. Only
// an answer that says the request was not processed rules it out: no byte
// of it written, the token refused (401/403), 408 or 429, or the API's own
// success:false envelope. Anything else — a dropped or silent connection
// after sending, any 5xx, a 200 whose body is not the envelope (an HTML
// page, a JSON cut short) — may have.
bool create_may_have_taken_effect(const ApiError& e);

// The tag that finds a create job's project again: derived from its batch
// and key, the same in every run of the batch.
std::string create_tag(const std::string& batch, const std::string& key);
// The name the project is given: the tag first, where a list that cuts
// names to a length keeps it ("[exportd-0123456789abcdef] Welcome video").
std::string tagged_project_name(const std::string& name, const std::string& tag);
// Whether a name as the list shows it carries `tag`. Only the tag is
// compared: a list may HTML-escape, trim, squeeze or cut the rest.
bool names_tag(std::string_view listed_name, std::string_view tag);

// One lookup of an in-doubt create: the list read page by page from the
// first, until the tag is found (found), every page has been read without
// it (absent), or the list cannot say (unknown: refused, unreadable, a page
// asked for twice, past max_pages, or leaving out a project known to exist).
class CreateLookup {
 public:
  static constexpr std::size_t default_max_pages = 1000;

  // `known`: ids of projects known to exist now (accepted in this batch): a
  // list that leaves one out is a window on the list, not the whole of it.
  CreateLookup(std::string tag, std::set<std::string> known, std::size_t max_pages = default_max_pages)
      : tag_(std::move(tag)), known_(std::move(known)), max_pages_(max_pages) {}

  struct Step {
    enum class Kind : std::uint8_t {
      found,    // `project`: the create took effect; adopt it
      next,     // ask for `query`
      absent,   // the whole list was read and the tag is not in it: the create may be sent
      unknown,  // `why`: the list could not say; try the lookup again later (never "absent")
    } kind;
    std::string project;
    ListQuery query;
    std::optional<ApiError> why;
  };

  ListQuery first() const { return {}; }
  // The reply to the page asked for last. `list_path`: the list's path as requested.
  Step on_page(const ApiResult<boost::json::object>& reply, std::string_view list_path);
  std::size_t pages() const { return asked_.size(); }

 private:
  Step unknown(std::string code, std::string message) const;
  Step complete() const;

  std::string tag_;
  std::set<std::string> known_;
  std::size_t max_pages_;
  std::vector<ListQuery> asked_{ListQuery{}};
  std::set<std::string> seen_;
  std::uint64_t items_ = 0;
};

}  // namespace exportd
