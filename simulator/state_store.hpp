#pragma once
#include <map>
#include <string>
#include <vector>

#include "fake_smtp/queue.hpp"
#include "support/text.hpp"

namespace sim {

/// A message in a mailbox (or an Exchange folder).
struct stored_message {
    std::string id;
    std::string mailbox;           ///< the address it was delivered to
    std::string folder = "inbox";  ///< inbox | outbox | sent (Exchange) — relays and stores use inbox
    std::string from;              ///< envelope sender ("" for <>)
    std::vector<std::string> to;   ///< envelope recipients of this copy
    std::string subject;
    std::string date;              ///< the Date header, as written
    std::string data;              ///< the RFC 5322 message
    support::duration received{0};
};

/// Everything a state directory held when the lab started.
struct saved_state {
    std::map<std::string, std::vector<stored_message>> messages;        ///< by host
    std::map<std::string, std::vector<fake_smtp::queue_entry>> queues;  ///< by host
    std::vector<std::string> problems;                                  ///< files that could not be read
};

/// Durable storage of mailboxes and queues under `--state-dir` (SPEC 11: a
/// message that got 250 after DATA survives kill -9). Every write goes to a
/// temporary file, is fsync'ed, renamed into place, and the directory is
/// fsync'ed, before the call returns. Layout:
///   DIR/messages/HOST/ID.eml + ID.meta      (meta last: it commits the pair)
///   DIR/queue/HOST/ID.eml + ID.meta
class state_store {
public:
    explicit state_store(std::string dir);
    const std::string& dir() const { return dir_; }

    /// Creates the directories; "" or why not.
    std::string open();
    /// "" when stored durably, else the reason.
    std::string save_message(const std::string& host, const stored_message& m);
    std::string save_queue_entry(const std::string& host, const fake_smtp::queue_entry& e);
    void remove_queue_entry(const std::string& host, const std::string& id);
    void remove_message(const std::string& host, const stored_message& m);
    /// Reads back everything (messages and queue entries whose meta file exists).
    saved_state load() const;

private:
    std::string dir_;
};

}  // namespace sim
