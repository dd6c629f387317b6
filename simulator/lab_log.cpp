#include "simulator/lab_log.hpp"

#include <algorithm>

#include "fake_dns/record.hpp"
#include "fake_dns/wire.hpp"
#include "support/ipv4.hpp"

namespace sim {

void dns_query_note::set_question(std::span<const std::uint8_t> query) {
    wire_size = 0;
    long_name.clear();
    qtype = 0;
    // Plain labels from offset 12 up to the root (a question name is never
    // compressed in practice); anything else goes the careful way.
    if (query.size() >= 12 && ((query[4] << 8) | query[5]) >= 1) {
        std::size_t pos = 12;
        while (pos < query.size() && query[pos] != 0 && query[pos] < 64 && pos - 12 + query[pos] + 1u < wire.size())
            pos += query[pos] + 1u;
        if (pos + 5 <= query.size() && query[pos] == 0) {  // the root label, then QTYPE and QCLASS
            std::copy(query.begin() + 12, query.begin() + static_cast<std::ptrdiff_t>(pos + 1), wire.begin());
            wire_size = static_cast<std::uint8_t>(pos + 1 - 12);
            qtype = static_cast<std::uint16_t>((query[pos + 1] << 8) | query[pos + 2]);
            return;
        }
    }
    if (auto parsed = fake_dns::parse_question(query)) {
        long_name = std::move(parsed->second.name);
        qtype = parsed->second.type;
    }
}

std::string dns_query_note::qname() const {
    if (wire_size) return fake_dns::wire_to_text({wire.data(), wire_size}, false);
    return long_name;
}

std::string log_entry::describe() const {
    if (!query) return text;
    auto& q = *query;
    auto qname = q.qname();
    static constexpr const char* rcodes[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};
    std::string out = support::format_ipv4(q.client) + " asked ";
    out += q.wire_size == 0 && q.long_name.empty() ? std::string("(malformed query)")
                                                   : (qname.empty() ? std::string(".") : qname) + " " + fake_dns::type_name(q.qtype);
    out += q.tcp ? " over TCP: " : ": ";
    if (q.dropped) return out + "no answer: the DNS service is down";
    out += q.rcode < 6 ? rcodes[q.rcode] : "RCODE" + std::to_string(q.rcode);
    out += ", " + std::to_string(q.answers) + (q.answers == 1 ? " answer" : " answers");
    if (q.truncated) out += ", truncated";
    return out;
}

log_entry& lab_log::next_slot() {
    if (size_ < capacity_) {
        if (ring_.size() < capacity_) ring_.emplace_back();  // grows as used, up to capacity_
        return ring_[(head_ + size_) % ring_.size()];
    }
    return ring_[head_];  // the oldest: publish() moves head_ past it
}

std::uint64_t lab_log::publish() {
    auto& e = size_ < capacity_ ? ring_[(head_ + size_) % ring_.size()] : ring_[head_];
    e.seq = next_seq_++;
    if (size_ < capacity_) ++size_;
    else head_ = (head_ + 1) % ring_.size();
    // A subscriber may unsubscribe (itself or another) while being told: walk by id.
    for (auto it = subscribers_.begin(); it != subscribers_.end();) {
        auto id = it->first;
        it->second(e);
        it = subscribers_.upper_bound(id);
    }
    return e.seq;
}

std::uint64_t lab_log::add(log_entry e) {
    next_slot() = std::move(e);
    return publish();
}

std::vector<log_entry> lab_log::since(std::uint64_t after, std::size_t max) const {
    std::vector<log_entry> out;
    if (size_ == 0) return out;
    // Entries are consecutive by seq, so the start is found by arithmetic.
    auto first = at(0).seq;
    std::size_t start = after < first ? 0 : static_cast<std::size_t>(after - first + 1);
    for (auto i = start; i < size_ && out.size() < max; ++i) out.push_back(at(i));
    return out;
}

int lab_log::subscribe(subscriber s) {
    auto id = next_sub_++;
    subscribers_.emplace(id, std::move(s));
    return id;
}

void lab_log::unsubscribe(int id) { subscribers_.erase(id); }

}  // namespace sim
