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

}  // namespace exportd
