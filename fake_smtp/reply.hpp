#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace fake_smtp {

/// An SMTP reply (RFC 5321 4.2) with its enhanced status code (RFC 3463).
struct reply {
    int code = 0;           ///< 250, 354, 451, 550...
    std::string enhanced;   ///< "2.1.0"; empty for replies that carry none (220, 221 may; 354 never)
    std::string text;       ///< one line, or several separated by '\n'
    /// The reply as it goes on the wire, CRLF-terminated, multi-line as "250-...".
    std::string wire() const;
    bool positive() const { return code >= 200 && code < 400; }
    bool transient() const { return code >= 400 && code < 500; }
    bool permanent() const { return code >= 500; }
    /// The RFC 3463 status it stands for: the enhanced code, else "X.0.0" of the
    /// reply's class (as Postfix derives one), else "" (no reply code at all).
    std::string status() const;
    bool operator==(const reply&) const = default;
};

/// Parses one complete reply ("250-a\r\n250 b\r\n"); false if `wire` is not one.
/// Used by the client and by tests.
bool parse_reply(std::string_view wire, reply& out);

/// The phases of an SMTP transaction at which a policy can act (SPEC 4).
enum class phase { banner, ehlo, mail, rcpt, data, dot };

/// A reply or behaviour forced at a phase by the host's policy (faults).
struct phase_rule {
    enum class action { reject, tempfail, disconnect, stall };
    action what = action::reject;
    int code = 0;
    std::string text;
};

/// The envelope of a message as the server received it.
struct envelope {
    std::string helo;                     ///< what the client said in HELO/EHLO
    std::string client_address;           ///< dotted quad
    std::string mail_from;                ///< reverse path without <>, "" for the null sender
    std::vector<std::string> rcpt_to;     ///< accepted forward paths without <>
    bool esmtp = false;                   ///< EHLO (true) or HELO
    bool body_8bit = false;               ///< BODY=8BITMIME
    std::uint64_t declared_size = 0;      ///< SIZE= from MAIL, 0 if none
};

}  // namespace fake_smtp
