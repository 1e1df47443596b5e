#include "schedule/sweep.hpp"

#include <utility>

namespace exportd {

bool SweepPlan::worth_it(std::size_t covered, bool running) const {
  if (!on()) return false;
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

SweepPlan::Listing SweepPlan::take(SweepMark& mark, std::optional<bool> exported, bool complete, bool covers_all) {
  const bool was_swept = swept(mark);
  if (!exported) {
    if (!complete) return Listing::none;  // on a page that failed: as it was
    not_listed(mark);
    return was_swept ? Listing::hand_back : Listing::none;
  }
  if (complete && !covers_all && !*exported) {
    // Listed unfinished by a list that leaves others out: its own reads go on.
    if (mark == SweepMark::excluded) return Listing::none;
    mark = SweepMark::unseen;
    return was_swept ? Listing::hand_back : Listing::none;
  }
  if (take_listing(mark, *exported)) return was_swept ? Listing::confirm_swept : Listing::confirm;
  return !was_swept && swept(mark) ? Listing::safety_net : Listing::none;
}

bool SweepMachine::worth_sweeping(TimePoint now, std::size_t covered) {
  if (plan_.worth_it(covered, running_)) {
    tail_since_.reset();
    return true;
  }
  if (!running_ || covered == 0 || !plan_.on()) return false;
  if (!tail_since_) tail_since_ = now;
  return now - *tail_since_ < SweepPlan::tail_limit;
}

SweepMachine::Next SweepMachine::next(TimePoint now, std::size_t covered) {
  if (!off_for_run_ && now >= retry_at_ && worth_sweeping(now, covered)) {
    const bool starts = !running_;
    running_ = true;
    return {Next::Kind::sweep, now, starts};
  }
  tail_since_.reset();
  if (running_) {
    running_ = false;
    return {Next::Kind::stop};
  }
  if (now < retry_at_) return {Next::Kind::wait_until, retry_at_};
  return {Next::Kind::wait};
}

SweepMachine::Failure SweepMachine::on_failure(TimePoint now, bool transient, std::size_t pages_read) {
  const auto in_a_row = ++failures_;
  if (SweepPlan::gives_up(in_a_row, transient)) {
    retry_at_ = now + SweepPlan::after_failure;
    running_ = false;
    failures_ = 0;
    return {Failed::give_up, in_a_row};
  }
  return {pages_read == 0 ? Failed::retry : Failed::partial, in_a_row};
}

TimePoint SweepMachine::on_swept(TimePoint now, std::size_t pages, bool all_listed) {
  if (all_listed) pages_ = pages;
  return std::exchange(last_sweep_at_, now);
}

bool SweepMachine::on_done(SweepMark mark) {
  if (mark == SweepMark::hinted) ++confirmed_;
  if (mark != SweepMark::unfinished || !running_) return false;
  if (!SweepPlan::list_misses_finishes(++missed_, confirmed_)) return false;
  off_for_run_ = true;
  running_ = false;
  return true;
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
