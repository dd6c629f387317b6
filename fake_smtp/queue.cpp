#include "fake_smtp/queue.hpp"

#include <algorithm>

namespace fake_smtp {

duration retry_policy::wait_after(int attempts) const {
    if (schedule.empty()) return std::chrono::hours(1);
    auto i = static_cast<std::size_t>(std::max(attempts, 1) - 1);
    return schedule[std::min(i, schedule.size() - 1)];
}

bool queue_entry::finished() const {
    return std::none_of(recipients.begin(), recipients.end(),
                        [](auto& r) { return r.what == queued_recipient::state::pending; });
}

const queue_entry& outbound_queue::add(std::string id, std::string mail_from, const std::vector<std::string>& recipients,
                                       std::string data, duration now, bool body_8bit) {
    queue_entry e;
    e.id = id;
    e.mail_from = std::move(mail_from);
    e.data = std::move(data);
    e.body_8bit = body_8bit;
    e.arrived = now;
    e.next_attempt = now;
    for (auto& r : recipients) e.recipients.push_back({r, queued_recipient::state::pending, {}, {}, {}});
    order_.push_back(id);
    return entries_[id] = std::move(e);
}

void outbound_queue::restore(queue_entry entry) {
    entry.in_flight = false;  // an attempt that was running when the process died never finished
    auto id = entry.id;
    if (!entries_.count(id)) order_.push_back(id);
    entries_[id] = std::move(entry);
}

std::vector<std::string> outbound_queue::due(duration now) const {
    std::vector<std::string> out;
    for (auto& id : order_) {
        auto& e = entries_.at(id);
        if (!e.in_flight && e.next_attempt <= now && !e.finished()) out.push_back(id);
    }
    return out;
}

bool outbound_queue::begin_attempt(const std::string& id) {
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.in_flight) return false;
    it->second.in_flight = true;
    return true;
}

attempt_report outbound_queue::finish_attempt(const std::string& id, const std::vector<attempt_result>& results,
                                              duration now) {
    attempt_report report;
    auto it = entries_.find(id);
    if (it == entries_.end()) return report;
    auto& e = it->second;
    e.in_flight = false;
    ++e.attempts;
    for (auto& res : results) {
        auto r = std::find_if(e.recipients.begin(), e.recipients.end(), [&](auto& x) {
            return x.address == res.address && x.what == queued_recipient::state::pending;
        });
        if (r == e.recipients.end()) continue;
        r->last_error = res.error;
        r->status = res.status;
        r->remote = res.remote;
        switch (res.what) {
            case attempt_result::outcome::delivered: r->what = queued_recipient::state::delivered; break;
            case attempt_result::outcome::failed:
                r->what = queued_recipient::state::failed;
                report.failed.push_back(*r);
                break;
            case attempt_result::outcome::deferred: break;
        }
        if (!res.error.empty()) e.last_error = res.error;
    }
    // RFC 5321 4.5.4.1: give up on what is still deferred once the deadline has passed.
    if (now - e.arrived >= policy_.bounce_after)
        for (auto& r : e.recipients)
            if (r.what == queued_recipient::state::pending) {
                r.what = queued_recipient::state::expired;
                report.expired.push_back(r);
            }
    report.finished = e.finished();
    if (!report.finished) {
        e.next_attempt = std::min(now + policy_.wait_after(e.attempts), std::max(now, e.arrived + policy_.bounce_after));
        report.retry_at = e.next_attempt;
    }
    return report;
}

std::optional<duration> outbound_queue::next_wakeup() const {
    std::optional<duration> best;
    for (auto& [id, e] : entries_)
        if (!e.in_flight && !e.finished() && (!best || e.next_attempt < *best)) best = e.next_attempt;
    return best;
}

void outbound_queue::retry_all(duration now) {
    for (auto& [id, e] : entries_)
        if (!e.in_flight && !e.finished()) e.next_attempt = std::min(e.next_attempt, now);
}

void outbound_queue::remove(const std::string& id) {
    entries_.erase(id);
    std::erase(order_, id);
}

const queue_entry* outbound_queue::find(const std::string& id) const {
    auto it = entries_.find(id);
    return it == entries_.end() ? nullptr : &it->second;
}

std::vector<const queue_entry*> outbound_queue::entries() const {
    std::vector<const queue_entry*> out;
    for (auto& id : order_) out.push_back(&entries_.at(id));
    return out;
}

}  // namespace fake_smtp
