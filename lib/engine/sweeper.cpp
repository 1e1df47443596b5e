#include "engine/sweeper.hpp"

#include <unordered_map>

#include "time/duration.hpp"

namespace exportd {

using boost::asio::awaitable;

Sweeper::Sweeper(boost::asio::any_io_executor ex, const Config& config, RunMode mode, JobTable& jobs,
                 ApiCaller& calls, SweepTarget& target, Logger& log, EngineTime& time)
    : config_(config),
      mode_(mode),
      jobs_(jobs),
      calls_(calls),
      target_(target),
      log_(log),
      time_(time),
      machine_(config.polling),
      wake_(time.alarm(ex)),
      news_(ex) {}

bool Sweeper::candidate(const ExportJob& job) {
  return job.state == JobState::polling && !job.hooked && job.sweep != SweepMark::excluded && !job.project_id.empty();
}

void Sweeper::stop() {
  stopping_ = true;
  wake_->cancel();
  news_.notify_all();
}

void Sweeper::reconfigure(const PollingSettings& polling) {
  machine_.reconfigure(polling);
  wake_->cancel();
  news_.notify_all();
}

void Sweeper::on_new_jobs() {
  if (!machine_.running()) news_.notify_all();
}

void Sweeper::on_done(SweepMark mark) {
  if (machine_.on_done(mark))
    hand_back("the project list did not show " + std::to_string(machine_.missed()) +
              " finished exports as exported; reads of their own from now on");
}

std::size_t Sweeper::coverage(bool all) const {
  std::size_t n = 0;
  for (const auto& job : jobs_) n += candidate(job) && (all || job.sweep != SweepMark::unlisted);
  return n;
}

awaitable<void> Sweeper::run() {
  for (;;) {
    if (over()) co_return;
    // The jobs a sweep would stand in for: all candidates but those the
    // latest one did not list (a list in pages may never show them).
    const auto now = time_.now();
    const auto covered = coverage(false);
    const auto next = machine_.next(now, covered);
    switch (next.kind) {
      case SweepMachine::Next::Kind::sweep: {
        if (next.starts)
          log_.info("sweeps_on", {{"jobs", std::to_string(covered)}, {"every", format_duration(machine_.every())}});
        const bool listed = co_await sweep();
        if (stopping_) co_return;
        wake_->expires_at(machine_.next_beat(now, listed, time_.now()));
        co_await wake_->wait();
        continue;
      }
      case SweepMachine::Next::Kind::stop:
        hand_back("fewer jobs to sweep than polling.sweep_min_jobs asks");
        continue;
      case SweepMachine::Next::Kind::wait_until:
        wake_->expires_at(next.at);
        co_await wake_->wait();
        break;
      case SweepMachine::Next::Kind::wait:
        co_await news_.wait();
        break;
    }
    // Counted again once the submits around the news have settled.
    if (stopping_) co_return;
    wake_->expires_at(time_.now() + SweepPlan::settle);
    co_await wake_->wait();
  }
}

awaitable<bool> Sweeper::sweep() {
  // The list as it comes, then its further pages while the replies say
  // there are more and some job it covers is not listed yet (ListPager).
  std::unordered_map<std::string, bool> exported;  // project id -> listed as exported
  auto pager = machine_.begin(coverage(true));
  const auto list_path = list_projects_request(config_.api.endpoint).target;
  ListQuery query;
  bool complete = true;  // every page the pager asked for was read
  std::size_t unlisted = 0;
  for (;;) {
    const ApiRequest request = list_projects_request(config_.api.endpoint, query);
    auto data = co_await calls_.call(nullptr, "(sweep)", request);
    if (stopping_) co_return true;
    if (!data) {
      const auto& e = data.error();
      const auto failed = machine_.on_failure(time_.now(), is_transient(e.kind), pager.pages());
      if (failed.kind == SweepMachine::Failed::give_up) {
        hand_back("the project list call failed " + std::to_string(failed.in_a_row) + " times in a row (" + e.code +
                  "): " + e.message);
        co_return true;
      }
      if (failed.kind == SweepMachine::Failed::retry) co_return false;
      complete = false;
      break;
    }
    machine_.on_page();
    auto page = read_project_list_page(*data, list_path);
    for (auto& p : page.items) exported[std::move(p.id)] = p.state == ListedState::exported;
    unlisted = 0;
    for (const auto& job : jobs_) unlisted += candidate(job) && !exported.contains(job.project_id);
    auto next = pager.next(query, page.paging, page.items.size(), unlisted);
    if (!next) break;
    query = std::move(*next);
  }
  // A list that no longer shows a job it stood in for, unfinished, is a
  // window the jobs slide out of: from then on it gives hints only whenever
  // it leaves a job out (SweepPlan::take).
  if (complete && unlisted > 0)
    for (const auto& job : jobs_)
      if (candidate(job) && swept(job.sweep) && !exported.contains(job.project_id)) {
        machine_.on_dropped();
        break;
      }
  const bool listed_all = complete && unlisted == 0;
  const bool covers_all = listed_all || (complete && !machine_.window());
  const auto seen_unfinished = machine_.on_swept(time_.now(), pager.pages(), listed_all);
  for (std::uint32_t i = 0; i < jobs_.size(); ++i) {
    ExportJob& job = jobs_[i];
    if (!candidate(job)) continue;
    const auto it = exported.find(job.project_id);
    const auto listing = it == exported.end() ? std::nullopt : std::optional<bool>(it->second);
    switch (SweepPlan::take(job.sweep, listing, complete, covers_all)) {
      case SweepPlan::Listing::none:
        break;
      case SweepPlan::Listing::confirm_swept:
        target_.confirm(i, seen_unfinished);
        break;
      case SweepPlan::Listing::confirm:
        target_.confirm(i, std::nullopt);
        break;
      case SweepPlan::Listing::safety_net:
        target_.reschedule(i, true);
        break;
      case SweepPlan::Listing::hand_back:
        target_.reschedule(i, false);
        break;
    }
  }
  co_return true;
}

void Sweeper::hand_back(const std::string& why) {
  log_.info("sweeps_off", {{"why", why}});
  for (std::uint32_t i = 0; i < jobs_.size(); ++i) {
    ExportJob& job = jobs_[i];
    if (!candidate(job)) continue;
    const bool was_swept = swept(job.sweep);
    job.sweep = SweepMark::unseen;
    if (was_swept) target_.reschedule(i, false);
  }
}

}  // namespace exportd
