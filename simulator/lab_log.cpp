#include "simulator/lab_log.hpp"

namespace sim {

std::uint64_t lab_log::add(log_entry e) {
    e.seq = next_seq_++;
    entries_.push_back(std::move(e));
    if (entries_.size() > capacity_) entries_.pop_front();
    // Copy: a subscriber may unsubscribe itself while being told.
    auto subs = subscribers_;
    for (auto& [id, fn] : subs) fn(entries_.back());
    return entries_.back().seq;
}

std::vector<log_entry> lab_log::since(std::uint64_t after, std::size_t max) const {
    std::vector<log_entry> out;
    if (entries_.empty()) return out;
    // Entries are consecutive by seq, so the start is found by arithmetic.
    auto first = entries_.front().seq;
    std::size_t start = after < first ? 0 : static_cast<std::size_t>(after - first + 1);
    for (auto i = start; i < entries_.size() && out.size() < max; ++i) out.push_back(entries_[i]);
    return out;
}

int lab_log::subscribe(subscriber s) {
    auto id = next_sub_++;
    subscribers_.emplace(id, std::move(s));
    return id;
}

void lab_log::unsubscribe(int id) { subscribers_.erase(id); }

}  // namespace sim
