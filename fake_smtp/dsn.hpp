#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fake_smtp {

/// One recipient of a delivery status notification (RFC 3464 2.3).
struct dsn_recipient {
    std::string final_recipient;     ///< "rfc822;bob@example.net" is written from this address
    std::string action = "failed";   ///< failed | delayed | delivered | relayed | expanded
    std::string status;              ///< "5.1.1"
    std::string remote_mta;          ///< "dns;mail.example.net", empty if none was reached
    std::string diagnostic;          ///< "smtp;550 5.1.1 <bob@example.net>: Recipient address rejected"
    std::string last_attempt;        ///< RFC 5322 date-time, may be empty
    std::string will_retry_until;    ///< for delayed
};

/// A DSN as a struct (as Postfix keeps it), written by write_dsn().
struct dsn_report {
    std::string reporting_mta;       ///< "mailhost.corp.example"
    std::string from = "MAILER-DAEMON";   ///< local part or full address of the sender of the report
    std::string to;                  ///< the original sender
    std::string subject = "Undelivered Mail Returned to Sender";
    std::string date;                ///< RFC 5322 date-time of the report
    std::string message_id;          ///< "<...@host>"
    std::string arrival_date;        ///< when the original arrived
    std::string original_envelope_id;
    std::string human_text;          ///< the first, human-readable part
    std::vector<dsn_recipient> recipients;
    std::string original;            ///< the original message (headers are what is returned)
    bool return_full_message = false;///< false: text/rfc822-headers; true: message/rfc822
    std::string boundary;            ///< MIME boundary; must not occur in the parts
};

/// Writes the report as an RFC 5322 message with a multipart/report;
/// report-type=delivery-status body (RFC 3462, 3464): the human part, the
/// message/delivery-status part and the returned headers (or message).
/// Lines end in CRLF and none exceeds 998 octets. Pure.
std::string write_dsn(const dsn_report& report);

}  // namespace fake_smtp
