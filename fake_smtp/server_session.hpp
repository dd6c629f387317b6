#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fake_smtp/reply.hpp"

namespace fake_smtp {

struct command;

/// What a server session needs to know of its host.
struct server_config {
    std::string hostname;                 ///< in the banner and EHLO reply
    std::string banner_text = "ESMTP mailsim";
    std::uint64_t max_message_size = 0;   ///< 0: no limit (EHLO says SIZE without a number)
    int max_recipients = 100;             ///< 0: no limit
    std::size_t max_command_line = 512;   ///< RFC 5321 4.5.3.1.4, including CRLF
    std::size_t max_text_line = 1000;     ///< RFC 5321 4.5.3.1.6, including CRLF
    int max_errors = 20;                  ///< then 421 4.7.0 and close (as Postfix's hard error limit)
    bool pipelining = true;
};

/// Decisions the session asks of the host while it runs: policy rules and
/// recipient checks. Implemented by the mail store, the relay or the IMC.
class server_policy {
public:
    virtual ~server_policy() = default;
    /// A rule forced at `p` (a fault), or nullopt for normal behaviour.
    virtual std::optional<phase_rule> rule_at(phase p) = 0;
    /// nullopt to accept the sender, or the reply that refuses it.
    virtual std::optional<reply> check_sender(const envelope& env, const std::string& reverse_path) = 0;
    /// nullopt to accept the recipient, or the reply that refuses it
    /// (550 5.1.1 unknown user, 554 5.7.1 relay denied...).
    virtual std::optional<reply> check_recipient(const envelope& env, const std::string& forward_path) = 0;
};

/// What the shell must do next.
struct server_action {
    enum class kind {
        write,    ///< send `bytes`
        close,    ///< close the connection (after the writes before it)
        deliver,  ///< a message is complete: store or queue it, then call on_delivered()
    };
    kind what = kind::write;
    std::string bytes;   ///< write
    envelope env;        ///< deliver
    std::string data;    ///< deliver: the message, unstuffed, every line ending CRLF
};

/// One SMTP server session as a pure state machine (SPEC 5): bytes in,
/// actions out. Handles HELO/EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT, VRFY,
/// HELP; SIZE, 8BITMIME, PIPELINING, ENHANCEDSTATUSCODES; line limits; CRLF or
/// bare LF on commands; in DATA only <CRLF>.<CRLF> ends a message (bare-LF
/// lines are normalised to CRLF and a dot line not ending in CRLF, or not
/// preceded by CRLF, is content); a bare CR or NUL in the message gets it
/// read to its end and rejected with 554 5.6.0.
class server_session {
public:
    server_session(server_config config, server_policy& policy, std::string client_address);

    /// The greeting (or what a banner rule says). `forced`, if given, replaces
    /// the banner and closes (the host's rate limit: 421 4.7.0).
    std::vector<server_action> on_connect(std::optional<reply> forced = std::nullopt);
    /// Bytes from the client, any split.
    std::vector<server_action> feed(std::string_view bytes);
    /// The shell's answer to a deliver action: nullopt = stored (250 2.0.0 Ok: queued as `id`),
    /// else the failure reply (e.g. 451 4.3.0 on a storage error).
    std::vector<server_action> on_delivered(const std::string& id, std::optional<reply> failure = std::nullopt);
    /// The client was idle too long: 421 4.4.2 and close (a stalled session closes without a word).
    std::vector<server_action> on_idle_timeout();
    /// True once a close action was emitted.
    bool closed() const;
    /// True while a stall rule holds the session silent.
    bool stalled() const;
    /// The phase the session is in (for logs and netmon).
    phase current_phase() const;

private:
    /// What the session does with the bytes it gets.
    enum class mode {
        greeting,    ///< before on_connect: input is kept for after the banner
        command,     ///< reading command lines
        rejected,    ///< the banner was a 5xx: every command but QUIT gets 503 (RFC 5321 3.1)
        data,        ///< reading message content after 354
        delivering,  ///< a deliver action is out: input is kept until on_delivered()
        stalled,     ///< a stall rule holds: input is dropped, nothing is said
        closed,
    };
    using actions = std::vector<server_action>;

    void process(actions& out);
    bool step_command(actions& out);
    bool step_data(actions& out);
    void command_line(std::string_view line, actions& out);
    void dispatch(std::string_view line, actions& out);
    void helo(const command& c, bool esmtp, actions& out);
    void mail(const command& c, actions& out);
    void rcpt(const command& c, actions& out);
    void data(const command& c, actions& out);
    void text_segment(std::string_view bytes);
    void end_of_text_line(actions& out);
    void end_of_message(actions& out);
    bool apply_rule(phase p, std::string_view subject, actions& out);
    void write(const reply& r, actions& out);
    void fail(const reply& r, actions& out);
    void close(actions& out);
    void check_error_limit(actions& out);
    void reset_transaction();
    std::string default_reply_text(phase p, bool temporary, std::string_view subject) const;

    server_config config_;
    server_policy* policy_;
    envelope env_;                  ///< helo, client and esmtp last the session; the rest is the transaction
    mode mode_ = mode::greeting;
    phase phase_ = phase::banner;
    bool helo_seen_ = false;
    bool in_transaction_ = false;   ///< MAIL accepted
    bool rcpt_seen_ = false;        ///< a RCPT command came in this transaction, accepted or not
    int errors_ = 0;                ///< failed commands since the last delivered message
    std::string in_;                ///< input not yet processed, from taken_ on
    std::size_t taken_ = 0;         ///< how much of in_ the current process() has used
    bool discarding_ = false;       ///< a command line went over the limit: dropping up to its LF

    // The message being read (DATA).
    std::string data_;              ///< stored content: unstuffed, CRLF line ends
    std::string line_;              ///< the current text line as received, up to max_text_line bytes
    std::size_t line_length_ = 0;   ///< its length so far (may exceed what line_ holds)
    bool line_ends_cr_ = false;     ///< the last byte of the current line so far is CR
    bool after_crlf_ = true;        ///< the previous line ended in CR LF (or DATA just began)
    bool bad_bytes_ = false;        ///< a bare CR or a NUL was seen
    bool line_too_long_ = false;
    bool too_big_ = false;
};

}  // namespace fake_smtp
