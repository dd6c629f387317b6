#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fake_smtp {

/// Lab time, in milliseconds since the lab started.
using duration = std::chrono::milliseconds;

/// When to try again and when to give up (SPEC 5: after 1m, 5m, 15m, then
/// hourly; bounce after 2 days).
struct retry_policy {
    std::vector<duration> schedule = {std::chrono::minutes(1), std::chrono::minutes(5), std::chrono::minutes(15),
                                      std::chrono::hours(1)};
    duration bounce_after = std::chrono::hours(48);
    /// The wait after the n-th failed attempt (1-based); the last entry repeats.
    duration wait_after(int attempts) const;
};

/// One recipient of a queued message.
struct queued_recipient {
    enum class state { pending, delivered, failed, expired };
    std::string address;
    state what = state::pending;
    std::string last_error;  ///< in an admin's words: "Host unreachable", "TCP/IP timeout", the remote reply
    std::string status;      ///< enhanced status of the last error ("4.4.1", "5.1.1")
    std::string remote;      ///< the host that gave the last answer, if any
};

/// A message waiting in a host's outbound queue.
struct queue_entry {
    std::string id;
    std::string mail_from;
    std::string data;
    bool body_8bit = false;  ///< it came in as BODY=8BITMIME, so it goes on as one (RFC 6152 3)
    duration arrived{0};
    duration next_attempt{0};
    int attempts = 0;
    bool in_flight = false;
    std::string last_error;
    std::vector<queued_recipient> recipients;

    bool finished() const;  ///< no recipient is pending
};

/// The result of an attempt for one recipient.
struct attempt_result {
    std::string address;
    enum class outcome { delivered, deferred, failed } what = outcome::deferred;
    std::string error;   ///< "Host unreachable", "TCP/IP timeout", "550 5.1.1 ..."
    std::string status;  ///< enhanced status code
    std::string remote;  ///< the host that answered
};

/// What finishing an attempt decided.
struct attempt_report {
    std::vector<queued_recipient> failed;   ///< became permanent failures now (DSN needed)
    std::vector<queued_recipient> expired;  ///< deferred past the bounce deadline now (DSN needed)
    std::optional<duration> retry_at;       ///< when the pending recipients are tried again
    bool finished = false;                  ///< nothing pending: the entry can go
};

/// A host's outbound queue: per-recipient state, attempts, retry schedule and
/// bounce deadline, all on lab time passed in. Pure.
class outbound_queue {
public:
    explicit outbound_queue(retry_policy policy = {}) : policy_(std::move(policy)) {}

    /// Queues a message for its recipients; it is due at once.
    const queue_entry& add(std::string id, std::string mail_from, const std::vector<std::string>& recipients,
                           std::string data, duration now, bool body_8bit = false);
    /// Puts back an entry as it was (restart from a state directory).
    void restore(queue_entry entry);
    /// Ids due for an attempt at `now` (not in flight, pending recipients), oldest first.
    std::vector<std::string> due(duration now) const;
    /// Marks an attempt as started; false if the entry is gone or already in flight.
    bool begin_attempt(const std::string& id);
    /// Records the attempt's results; recipients not listed stay pending.
    attempt_report finish_attempt(const std::string& id, const std::vector<attempt_result>& results, duration now);
    /// The earliest time an entry becomes due, if any.
    std::optional<duration> next_wakeup() const;
    /// Makes every waiting entry due at `now` (an admin's "retry now").
    void retry_all(duration now);
    void remove(const std::string& id);
    const queue_entry* find(const std::string& id) const;
    /// Every entry, oldest first.
    std::vector<const queue_entry*> entries() const;
    std::size_t size() const { return entries_.size(); }
    const retry_policy& policy() const { return policy_; }
    void set_policy(retry_policy p) { policy_ = std::move(p); }

private:
    retry_policy policy_;
    std::map<std::string, queue_entry> entries_;
    std::vector<std::string> order_;
};

}  // namespace fake_smtp
