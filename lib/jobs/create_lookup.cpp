#include "jobs/create_lookup.hpp"

#include <algorithm>

#include "ops/digest.hpp"

namespace exportd {

bool create_may_have_taken_effect(const ApiError& e) {
  // No HTTP answer: the transport knows whether a byte of the request went out.
  if (e.http_status == 0) return e.maybe_processed;
  const int s = e.http_status;
  if (s == 401 || s == 403 || s == 408 || s == 429) return false;
  // The API's own refusal (a success:false envelope, read as such).
  if (s < 500 && (e.kind == Errc::rejected || e.kind == Errc::unauthorized)) return false;
  return true;
}

std::string create_tag(const std::string& batch, const std::string& key) {
  return "exportd-" + content_digest(batch + "/" + key);
}

std::string tagged_project_name(const std::string& name, const std::string& tag) {
  return name.empty() ? "[" + tag + "]" : "[" + tag + "] " + name;
}

bool names_tag(std::string_view listed_name, std::string_view tag) {
  return !tag.empty() && listed_name.find(tag) != std::string_view::npos;
}

CreateLookup::Step CreateLookup::unknown(std::string code, std::string message) const {
  // Retried like a transient failure: a lookup that cannot say is asked again, never read as "absent".
  return {Step::Kind::unknown, {}, {}, ApiError{Errc::transport, 0, std::move(code), std::move(message), {}}};
}

CreateLookup::Step CreateLookup::complete() const {
  for (const auto& id : known_)
    if (!seen_.contains(id))
      return unknown("list_window", "the project list leaves out project " + id +
                                        ", which exists: it shows part of the list, so a missing tag proves nothing");
  return {Step::Kind::absent, {}, {}, {}};
}

CreateLookup::Step CreateLookup::on_page(const ApiResult<boost::json::object>& reply, std::string_view list_path) {
  if (!reply) {
    const auto& e = reply.error();
    // Transient and run-stopping failures go on as they are (retried, or the run's rules act).
    if (is_transient(e.kind) || e.kind == Errc::credentials || e.kind == Errc::tls || e.kind == Errc::unauthorized)
      return {Step::Kind::unknown, {}, {}, e};
    return unknown(e.code.empty() ? "list_refused" : e.code,
                   "the project list was refused (" + e.message + "): whether the create took effect is unknown");
  }
  const ListQuery asked = asked_.back();
  const auto page = read_project_list_page(*reply, list_path);
  if (!page.readable)
    return unknown("list_unreadable",
                   "the project list's reply holds no items under a key exportd reads (items, projects, list, "
                   "content): whether the create took effect is unknown");
  std::size_t fresh = 0;
  for (const auto& p : page.items) {
    if (names_tag(p.name, tag_)) return {Step::Kind::found, p.id, {}, {}};
    fresh += seen_.insert(p.id).second;
  }
  items_ += page.items.size();
  if (page.items.empty()) return complete();
  if (asked_.size() > 1 && fresh == 0)
    return unknown("list_paging",
                   "a page of the project list repeats items read before: it ignores the page asked for");
  const auto& paging = page.paging;
  ListQuery query;
  if (!paging.next_target.empty()) {
    query.next_target = paging.next_target;
  } else if (paging.next_page) {
    query.page = *paging.next_page;
    query.size = asked.size;
  } else if ((paging.more && !*paging.more) || (paging.total && items_ >= *paging.total)) {
    return complete();
  } else if (paging.page) {
    if (asked.page > 0 && *paging.page != asked.page)
      return unknown("list_paging", "the project list answered page " + std::to_string(*paging.page) + " when page " +
                                        std::to_string(asked.page) + " was asked for");
    const bool full = paging.size && page.items.size() >= *paging.size;
    if (!paging.total && !paging.more && !full) return complete();
    query.page = *paging.page + 1;
    query.size = paging.size.value_or(asked.size);
  } else if (paging.more || paging.total) {
    // More is said to follow, and nothing says how to ask: the next page by number.
    query.page = std::max<std::uint64_t>(asked.page, 1) + 1;
    query.size = asked.size;
  } else {
    return complete();  // a list that says nothing of pages: the whole list, if it shows every known project
  }
  if (std::find(asked_.begin(), asked_.end(), query) != asked_.end())
    return unknown("list_paging", "the project list's paging leads back to a page read before");
  if (asked_.size() >= max_pages_)
    return unknown("list_too_long", "the project list runs past " + std::to_string(max_pages_) + " pages");
  asked_.push_back(query);
  return {Step::Kind::next, {}, query, {}};
}

}  // namespace exportd
