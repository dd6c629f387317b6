#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fake_smtp/reply.hpp"

namespace fake_smtp {

/// What a relay or mail store accepts and where it sends what it relays.
struct mail_host_config {
    std::string hostname;                       ///< FQDN: banner, Received lines, DSNs
    std::vector<std::string> local_domains;     ///< lower case
    std::vector<std::string> mailboxes;         ///< full addresses, lower case
    std::vector<std::string> relay_domains;     ///< lower case; a relay only
    std::vector<std::pair<std::string, std::string>> routes;  ///< domain -> next hop (name or address)
    std::string smart_host;                     ///< every relayed domain without a route goes here
    bool relays = true;                         ///< false for a mail store
};

/// Where an accepted recipient goes.
enum class recipient_kind { local, relayed };

/// Accepts or refuses a recipient (SPEC 5: local mailboxes, relay domains
/// and nothing else: no open relay). `refusal` is set when refused: 550 5.1.1
/// for an unknown user in a local domain, 554 5.7.1 for relay access denied.
struct recipient_decision {
    recipient_kind kind = recipient_kind::local;
    std::optional<reply> refusal;
    std::string mailbox;  ///< the local mailbox it lands in (case-folded), for local recipients
};
recipient_decision classify_recipient(const mail_host_config& c, std::string_view address);

/// The next hop for a domain: an explicit route, the smart host, or the
/// domain's MX (RFC 5321 5.1: with the implicit-A fallback).
struct next_hop {
    enum class kind { route, smart_host, mx };
    kind how = kind::mx;
    std::string target;  ///< route or smart host; the domain itself for MX
};
next_hop route_for(const mail_host_config& c, std::string_view domain);

/// The Received line a host adds (RFC 5321 4.4), folded, ending CRLF.
std::string received_header(std::string_view by_host, std::string_view helo, std::string_view client_address,
                            std::string_view id, bool esmtp, std::string_view for_recipient, std::string_view date);

/// Received lines in the message's header block (for max_hops, RFC 5321 6.3).
int count_received(std::string_view message);

/// The value of the first header field called `name` (unfolded), or "".
std::string header_value(std::string_view message, std::string_view name);

/// The header block of a message (up to and including the empty line, or all of it).
std::string_view header_block(std::string_view message);

/// An RFC 5322 date-time for lab time `epoch_ms` (ms since the Unix epoch, UTC).
std::string rfc5322_date(long long epoch_ms);

}  // namespace fake_smtp
