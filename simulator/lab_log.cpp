#include "simulator/lab_log.hpp"

#include "fake_dns/record.hpp"
#include "support/ipv4.hpp"

namespace sim {

std::string log_entry::describe() const {
    if (!query) return text;
    auto& q = *query;
    static constexpr const char* rcodes[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};
    std::string out = support::format_ipv4(q.client) + " asked ";
    out += q.qname.empty() ? std::string("(malformed query)") : q.qname + " " + fake_dns::type_name(q.qtype);
    out += q.tcp ? " over TCP: " : ": ";
    if (q.dropped) return out + "no answer: the DNS service is down";
    out += q.rcode < 6 ? rcodes[q.rcode] : "RCODE" + std::to_string(q.rcode);
    out += ", " + std::to_string(q.answers) + (q.answers == 1 ? " answer" : " answers");
    if (q.truncated) out += ", truncated";
    return out;
}

std::uint64_t lab_log::add(log_entry e) {
    e.seq = next_seq_++;
    entries_.push_back(std::move(e));
    if (entries_.size() > capacity_) entries_.pop_front();
    if (subscribers_.empty()) return entries_.back().seq;
    // A subscriber may unsubscribe (itself or another) while being told: walk by id.
    for (auto it = subscribers_.begin(); it != subscribers_.end();) {
        auto id = it->first;
        it->second(entries_.back());
        it = subscribers_.upper_bound(id);
    }
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
