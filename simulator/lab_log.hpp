#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <array>
#include <span>
#include <string>
#include <vector>

#include "support/text.hpp"

namespace sim {

/// A DNS query as the log keeps it: small, and turned into text only when
/// someone reads the log (a DNS server answers far more often than anyone reads).
struct dns_query_note {
    std::uint32_t client = 0;
    /// The question's name as it came, in wire form, when it fits (most do):
    /// copying it costs far less than making text of every query, and the text
    /// is made only when somebody reads the entry.
    std::array<std::uint8_t, 62> wire{};
    std::uint8_t wire_size = 0;
    std::string long_name;      ///< the name as text when it did not fit `wire`
    std::uint16_t qtype = 0;
    std::uint16_t answers = 0;
    std::uint8_t rcode = 0;
    bool tcp = false;
    bool truncated = false;
    bool dropped = false;       ///< the server was down: no answer

    /// Records the first question of `query` (name and type); a malformed one leaves the name "".
    void set_question(std::span<const std::uint8_t> query);
    /// The queried name as text, in the case it was sent, without the trailing dot; "" for a malformed query or the root.
    std::string qname() const;
};

/// One entry of the lab's log: a DNS query, an SMTP transcript line, an event
/// log record, a fault or configuration change.
struct log_entry {
    std::uint64_t seq = 0;
    support::duration sim{0};   ///< lab time
    std::int64_t wall_ms = 0;   ///< real time, ms since the Unix epoch
    std::string kind;           ///< dns | smtp | event | net | fault | config | clock
    std::string host;           ///< the host it concerns ("" for the lab)
    std::string text;           ///< empty for DNS queries: see `query`
    std::optional<dns_query_note> query;

    /// The entry as one line of text.
    std::string describe() const;
};

/// A bounded log with sequence numbers and live subscribers (`/log`, `/events`).
class lab_log {
public:
    using subscriber = std::function<void(const log_entry&)>;

    explicit lab_log(std::size_t capacity = 10000) : capacity_(capacity ? capacity : 1) {}

    /// Appends; sets the entry's sequence number and tells subscribers.
    std::uint64_t add(log_entry e);
    /// The hot path (a DNS query each): the slot of the next entry, filled in
    /// place. When the log is full it is the oldest entry's slot, with its
    /// strings' storage kept; the caller sets every field, then calls publish().
    log_entry& next_slot();
    /// Gives the entry filled by next_slot() its number and tells subscribers.
    std::uint64_t publish();
    /// Entries with seq > `after`, oldest first, at most `max`.
    std::vector<log_entry> since(std::uint64_t after, std::size_t max = 1000) const;
    /// The last sequence number given.
    std::uint64_t last_seq() const { return next_seq_ - 1; }

    int subscribe(subscriber s);
    void unsubscribe(int id);

private:
    const log_entry& at(std::size_t i) const { return ring_[(head_ + i) % ring_.size()]; }

    std::size_t capacity_;
    // A ring: the oldest entry at head_, size_ of them; full rings reuse the oldest slot.
    std::vector<log_entry> ring_;
    std::size_t head_ = 0, size_ = 0;
    std::uint64_t next_seq_ = 1;
    std::map<int, subscriber> subscribers_;
    int next_sub_ = 1;
};

}  // namespace sim
