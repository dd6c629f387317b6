#pragma once
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "fake_dns/resolve_result.hpp"
#include "fake_smtp/client_session.hpp"
#include "fake_smtp/mail_policy.hpp"
#include "fake_smtp/queue.hpp"
#include "fake_smtp/server.hpp"
#include "simulator/scenario.hpp"
#include "simulator/state_store.hpp"

namespace sim {

namespace net = boost::asio;

/// The SMTP behaviour of one host for one connection: its live settings with
/// the gates of `first`/`odds` faults drawn at connect time.
struct connection_view {
    smtp_service_state service;
    std::uint64_t max_message_size = 0;
    int max_recipients = 0;
    std::vector<std::string> relay_domains;
    bool drop = false;  ///< close at once without a word (a gated port_closed or filtered)
};

/// What mail agents need from the lab they live in.
class mail_context {
public:
    virtual ~mail_context() = default;
    virtual net::any_io_executor executor() = 0;
    virtual duration now() const = 0;
    /// Real time (ms since the epoch) matching a lab time, for Date headers.
    virtual std::int64_t wall_ms(duration lab_time) const = 0;
    virtual const configuration& live() const = 0;
    virtual std::uint16_t smtp_port() const = 0;
    virtual void note(const std::string& kind, const std::string& host, const std::string& text) = 0;
    /// Looks a name up as `host` would.
    virtual net::awaitable<fake_dns::resolve_result> resolve(std::string host, std::string name, std::uint16_t type) = 0;
    virtual net::awaitable<void> sleep(duration d) = 0;
    /// Runs `fn` at lab time `when` (at once if past).
    virtual void at(duration when, std::function<void()> fn) = 0;
    /// True when `to` is an address where no host answers although the way to
    /// its segment works: a router there answers "host unreachable".
    virtual bool nobody_at(ipv4 from, ipv4 to) const = 0;
    /// Counts one generated message (a DSN) against the lab's storm cap; false once the cap is reached.
    virtual bool storm_allows(const std::string& host) = 0;
    /// A fresh message id.
    virtual std::string next_id() = 0;
    /// The state directory, or nullptr without --state-dir.
    virtual state_store* store() = 0;
    /// The host's SMTP settings for one new connection (faults' gates drawn now).
    virtual connection_view open_connection(const std::string& host) = 0;
    /// The host a connection from `client` comes from, by address: the client's
    /// own for a lab host, else the vantage host's (SPEC 2).
    virtual ipv4 counts_as(ipv4 client) const = 0;
};

/// An RFC 5322 message as a lab user writes one: Date, From, To, Subject,
/// Message-ID and a plain-text body, padded with text lines to about `size`
/// bytes (0: no padding). `unique` and `host` make the Message-ID unique.
std::string compose_message(const std::string& from, const std::vector<std::string>& to, const std::string& subject,
                            const std::string& body, std::uint64_t size, const std::string& date, long long unique,
                            const std::string& host);

/// One line of a host's SMTP traffic, kept for netmon and the trainer.
struct smtp_event {
    duration at{0};
    std::string peer;       ///< the other host's address
    bool outbound = false;  ///< we were the client
    std::string line;
};

/// A relay or mail store: its SMTP service, its mailboxes and its outbound
/// queue, with retries and bounces on the lab clock (SPEC 5).
class mail_agent : public fake_smtp::smtp_host, public std::enable_shared_from_this<mail_agent> {
public:
    mail_agent(mail_context& lab, std::string host);

    const std::string& host() const { return host_; }

    // smtp_host
    std::unique_ptr<fake_smtp::server_policy> open_session(std::uint32_t client, fake_smtp::server_config& config,
                                                           std::optional<fake_smtp::reply>& forced) override;
    net::awaitable<fake_smtp::delivery_outcome> deliver(fake_smtp::envelope env, std::string data) override;
    void transcript(std::uint32_t client, bool from_server, std::string_view line) override;

    /// Submits a message as a local user of this host would (the API, DSNs):
    /// local recipients get it at once, others go to the outbound queue.
    /// Returns the id, or an error.
    std::string submit(const std::string& mail_from, const std::vector<std::string>& rcpts, std::string data,
                       std::string& error);

    /// Mailboxes of this host and their messages.
    const std::map<std::string, std::vector<stored_message>>& mailboxes() const { return mailboxes_; }
    const fake_smtp::outbound_queue& queue() const { return queue_; }
    /// Recent SMTP lines, oldest first (bounded).
    const std::deque<smtp_event>& events() const { return events_; }

    /// Submits a message as the Exchange user owning `from`: it enters their
    /// Outbox, and the MTA (when running) routes it by the GWART. Returns the id.
    std::string submit_user(const std::string& from, const std::vector<std::string>& rcpts, std::string data,
                            std::string& error);
    /// Moves what waits in the Outboxes on, if the MTA runs (after `net start msexchangemta`).
    void run_mta();
    /// Messages taken by connectors other than the IMC, by connector name.
    const std::map<std::string, std::vector<stored_message>>& connector_queues() const { return connector_queues_; }
    /// True when this host is an Exchange server.
    bool exchange() const;
    /// The primary SMTP address of the mailbox owning `address` (Exchange), else `address`.
    std::string primary_address(const std::string& address) const;
    /// True when the outbound queue may be worked now.
    bool can_send() const;

    /// Puts back what a state directory held.
    void restore(std::vector<stored_message> messages, std::vector<fake_smtp::queue_entry> queued);
    /// Looks at the queue now (after a change that may unblock it).
    void kick();
    /// Tries every queued message now, whatever the retry schedule says.
    void retry_now();

private:
    fake_smtp::mail_host_config mail_config(const connection_view* view) const;
    const sim::host_config* live_host() const;
    std::string store_local(const std::string& mailbox, const std::string& mail_from, const std::vector<std::string>& to,
                            std::string data, const std::string& id);
    std::string store_in_folder(stored_message m);
    bool is_mailbox(const std::string& address) const;
    std::string looked_up(const std::string& name) const;
    void route_from_outbox(const stored_message& m);
    void exchange_ndr(const std::string& sender_mailbox, const std::string& original,
                      const std::vector<fake_smtp::queued_recipient>& failed, const std::string& reason);
    std::string enqueue(const std::string& id, const std::string& mail_from, const std::vector<std::string>& rcpts,
                        std::string data, bool body_8bit = false);
    void bounce(const std::string& original_from, const std::string& data,
                const std::vector<fake_smtp::queued_recipient>& failed, const std::string& arrival);
    void schedule_queue();
    void run_due();
    net::awaitable<void> attempt(std::string id);
    net::awaitable<std::vector<fake_smtp::attempt_result>> deliver_domain(std::string domain,
                                                                         std::vector<std::string> rcpts,
                                                                         std::string mail_from, std::string data,
                                                                         bool body_8bit);
    void record(const std::string& peer, bool outbound, std::string line);
    /// The RFC 5322 date of a wall-clock time, formatted once per second.
    const std::string& date_of(std::int64_t wall_ms);

    mail_context& lab_;
    std::string host_;
    std::map<std::string, std::vector<stored_message>> mailboxes_;
    fake_smtp::outbound_queue queue_;
    std::deque<smtp_event> events_;
    std::map<ipv4, std::deque<duration>> recent_connections_;  // per client host, for the rate limit
    std::optional<duration> wakeup_;                           // when the queue timer is set for
    std::map<std::string, std::vector<stored_message>> connector_queues_;
    std::uint32_t transcript_client_ = 0;  // the client whose address transcript_peer_ holds
    std::string transcript_peer_;
    std::int64_t date_second_ = 0;         // the second date_text_ holds, when it is not empty
    std::string date_text_;
};

}  // namespace sim
