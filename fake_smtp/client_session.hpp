#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fake_smtp/reply.hpp"

namespace fake_smtp {

/// A message to send: the envelope and the content.
struct outgoing_message {
    std::string mail_from;                ///< "" for the null sender <>
    std::vector<std::string> recipients;
    std::string data;                     ///< the message, lines ending CRLF, not dot-stuffed
    bool body_8bit = false;
};

/// What happened to one recipient.
struct recipient_result {
    std::string address;
    reply answer;        ///< the reply that decided it (RCPT's, or the one after the final dot)
    enum class outcome { delivered, deferred, failed } result = outcome::deferred;
};

/// What the whole attempt came to.
struct delivery_result {
    /// Where the dialogue ended: banner, ehlo, mail, rcpt, data, dot, or done.
    std::string stage;
    bool connected = true;
    std::optional<reply> session_reply;        ///< the reply that ended the session early (421, 554 banner, 5xx MAIL...)
    std::string transport_error;               ///< "connection closed", "timed out waiting for the banner"...
    std::vector<recipient_result> recipients;  ///< one per recipient, in order
    std::string transcript;                    ///< the dialogue, "<<< " server and ">>> " client lines
};

/// Limits and manners of the client.
struct client_config {
    std::string helo_name;         ///< our name in EHLO/HELO
    bool use_pipelining = true;    ///< when the server offers PIPELINING (RFC 2920)
    std::size_t max_reply_bytes = 64 * 1024;
};

/// What the shell must do next.
struct client_action {
    enum class kind { write, close, done };
    kind what = kind::write;
    std::string bytes;      ///< write
    delivery_result result; ///< done
};

/// One SMTP client session as a pure state machine (SPEC 5): EHLO with HELO
/// fallback, SIZE when offered, PIPELINING when offered, dot-stuffing and
/// CRLF everywhere, per-recipient results. Bytes in, actions out.
class client_session {
public:
    client_session(client_config config, outgoing_message message);

    /// Connected: wait for the banner (nothing to write yet).
    std::vector<client_action> on_connect();
    /// Bytes from the server, any split.
    std::vector<client_action> feed(std::string_view bytes);
    /// The server said nothing for too long: done, every pending recipient deferred.
    std::vector<client_action> on_timeout();
    /// The server closed the connection: done, every pending recipient deferred.
    std::vector<client_action> on_closed();
    bool finished() const;

private:
    /// What a reply answers; several are awaited at once when pipelining.
    enum class step { banner, ehlo, helo, mail, rcpt, data, dot, lone_dot, quit };

    std::vector<client_action> on_reply(const reply& r, const std::vector<std::string>& lines);
    std::vector<client_action> start_transaction();
    std::vector<client_action> send(std::string_view line, step awaited);
    std::vector<client_action> quit();
    std::vector<client_action> session_over(const reply& r);
    std::vector<client_action> fail(std::string error, reply answer);
    std::vector<client_action> protocol_error(std::string error);
    std::vector<client_action> finish();
    void decide(std::size_t i, const reply& r, recipient_result::outcome o);
    void decide_pending(const reply& r, recipient_result::outcome o);
    void decide_accepted(const reply& r, recipient_result::outcome o);
    void set_stage(step s);
    bool any_accepted() const;

    client_config config_;
    outgoing_message message_;
    std::string body_;                     ///< the message with CRLF line ends, not yet dot-stuffed
    std::string in_;                       ///< received bytes not yet making a whole line
    std::vector<std::string> lines_;       ///< lines of the reply being read
    std::size_t reply_bytes_ = 0;          ///< size of the reply being read, for max_reply_bytes
    std::vector<step> awaited_;            ///< replies still to come, in order
    std::size_t next_rcpt_ = 0;            ///< the recipient whose RCPT reply comes next
    std::vector<bool> accepted_;           ///< RCPT got 2xx, outcome waits for the final dot
    std::vector<bool> decided_;
    bool pipelining_ = false;
    bool size_offered_ = false;
    std::uint64_t size_limit_ = 0;         ///< 0: no limit announced
    bool eight_bit_ = false;
    bool mail_rejected_ = false;
    bool finished_ = false;
    delivery_result result_;
};

}  // namespace fake_smtp
