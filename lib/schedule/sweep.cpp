#include "schedule/sweep.hpp"

namespace exportd {

bool SweepPlan::worth_it(std::size_t covered, bool running) const {
  if (every_.count() <= 0 || start_at_ == 0) return false;
  const std::size_t keep_at = (start_at_ + 2) / 3;
  return covered >= (running ? keep_at : start_at_);
}

bool SweepPlan::take_listing(SweepMark& mark, bool exported) {
  switch (mark) {
    case SweepMark::excluded:
      return false;
    case SweepMark::hinted:
      // Read once on the first "exported"; again only after the list has
      // shown it unfinished in between.
      if (!exported) mark = SweepMark::unfinished;
      return false;
    case SweepMark::unseen:
    case SweepMark::unlisted:
    case SweepMark::unfinished:
      mark = exported ? SweepMark::hinted : SweepMark::unfinished;
      return exported;
  }
  return false;
}

void SweepPlan::not_listed(SweepMark& mark) {
  if (mark != SweepMark::excluded) mark = SweepMark::unlisted;
}

void SweepPlan::read_unfinished(SweepMark& mark) {
  if (mark == SweepMark::hinted) mark = SweepMark::excluded;
}

std::optional<ListQuery> ListPager::next(const ListQuery& asked, const ListPaging& paging, std::size_t items,
                                         std::size_t unlisted) {
  ++pages_;
  items_ += items;
  asked_.push_back(asked);
  if (items == 0 || unlisted == 0 || pages_ >= max_pages_) return std::nullopt;
  if (paging.total && items_ >= *paging.total) return std::nullopt;
  if (paging.more && !*paging.more) return std::nullopt;
  ListQuery query;
  if (!paging.next_target.empty()) {
    query.next_target = paging.next_target;
  } else if (paging.next_page) {
    query.page = *paging.next_page;
    query.size = asked.size;
  } else if (paging.page) {
    // A reply for another page than the one asked for ignores the paging asked for.
    if (asked.page > 0 && *paging.page != asked.page) return std::nullopt;
    // More is known to follow: a total not reached, "has more", or a full page.
    const bool full = paging.size && items >= *paging.size;
    if (!paging.total && !paging.more && !full) return std::nullopt;
    query.page = *paging.page + 1;
    query.size = paging.size.value_or(asked.size);
  } else {
    return std::nullopt;  // nothing says how to ask for more
  }
  if (std::find(asked_.begin(), asked_.end(), query) != asked_.end()) return std::nullopt;
  return query;
}

}  // namespace exportd
