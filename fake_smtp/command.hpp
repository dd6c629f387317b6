#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace fake_smtp {

/// One command line, parsed (RFC 5321 4.1.1). Pure.
struct command {
    enum class verb { helo, ehlo, mail, rcpt, data, rset, noop, quit, vrfy, expn, help, starttls, auth, bdat, unknown };
    verb what = verb::unknown;
    std::string word;                           ///< the verb as sent (for messages)
    std::string argument;                       ///< the rest of the line, trimmed
    // MAIL FROM / RCPT TO
    std::optional<std::string> path;            ///< the address between < >, "" for <>; nullopt when malformed
    std::map<std::string, std::string> params;  ///< ESMTP parameters, keys upper-cased ("SIZE" -> "1024")
    std::string error;                          ///< why the path or parameters are malformed
};

/// Parses a command line (without its line ending). Never throws.
command parse_command(std::string_view line);

/// Checks an address the way RFC 5321 4.1.2 defines a Mailbox (dot-string or
/// quoted local part, domain or address literal); "" for the null path is
/// accepted only where `null_ok`.
bool valid_mailbox(std::string_view address, bool null_ok = false);

/// The domain of an address, lower case ("" when none).
std::string domain_of(std::string_view address);

}  // namespace fake_smtp
