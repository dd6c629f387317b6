// Writes one DSN (write_dsn) per representative delivery failure into a
// directory, as <case>.eml, for a third-party bounce parser to read back
// (tests/integration/test_dsn_sisimai.py). Usage: dsn_samples <directory>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fake_smtp/dsn.hpp"

namespace {

using fake_smtp::dsn_recipient;
using fake_smtp::dsn_report;

struct sample {
    std::string name;
    dsn_recipient recipient;
    std::string subject = "Undelivered Mail Returned to Sender";
};

const char* const original =
    "Received: from ws1.corp.example (ws1.corp.example [10.1.0.20])\r\n"
    "\tby mailhost.corp.example (mailsim) with ESMTP id 4F2A1\r\n"
    "\tfor <bob@example.net>; Tue, 14 May 2024 09:12:44 +0000\r\n"
    "From: Alice Example <alice@corp.example>\r\n"
    "To: Bob <bob@example.net>\r\n"
    "Subject: Quarterly figures\r\n"
    "Date: Tue, 14 May 2024 09:12:40 +0000\r\n"
    "Message-ID: <20240514091240.1@ws1.corp.example>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "Bob,\r\n\r\nthe figures are attached.\r\n\r\nAlice\r\n";

dsn_recipient rcpt(std::string address, std::string action, std::string status, std::string remote,
                   std::string diagnostic) {
    dsn_recipient r;
    r.final_recipient = std::move(address);
    r.action = std::move(action);
    r.status = std::move(status);
    r.remote_mta = std::move(remote);
    r.diagnostic = std::move(diagnostic);
    r.last_attempt = "Tue, 14 May 2024 09:12:46 +0000";
    return r;
}

std::vector<sample> samples() {
    std::vector<sample> s;
    s.push_back({"user_unknown",
                 rcpt("bob@example.net", "failed", "5.1.1", "mx.example.net",
                      "smtp; 550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown in local "
                      "recipient table")});
    s.push_back({"message_too_big",
                 rcpt("bob@example.net", "failed", "5.3.4", "mx.example.net",
                      "smtp; 552 5.3.4 Message size exceeds fixed maximum message size")});
    // The reporting MTA itself counted the Received lines (SPEC 5: max_hops).
    s.push_back({"routing_loop",
                 rcpt("bob@example.net", "failed", "5.4.6", "",
                      "X-mailsim; 554 5.4.6 Too many hops: message looping (31 Received lines)")});
    s.push_back({"relay_denied",
                 rcpt("bob@example.net", "failed", "5.7.1", "mx.example.net",
                      "smtp; 554 5.7.1 <bob@example.net>: Relay access denied")});
    // Still deferred when the bounce deadline passed: the last transient status
    // stays, the action becomes failed (as Postfix reports expiry).
    auto expired = rcpt("bob@example.net", "failed", "4.4.1", "",
                        "X-mailsim; connect to mx.example.net[10.2.0.25]:25: Connection timed out");
    s.push_back({"expired_timeout", expired});
    s.push_back({"host_unreachable",
                 rcpt("bob@example.net", "failed", "5.4.4", "",
                      "X-mailsim; Host or domain name not found. Name service error for name=example.net type=MX: "
                      "Host not found")});
    auto delayed = rcpt("bob@example.net", "delayed", "4.4.1", "",
                        "X-mailsim; connect to mx.example.net[10.2.0.25]:25: Connection timed out");
    delayed.will_retry_until = "Thu, 16 May 2024 09:12:44 +0000";
    s.push_back({"delayed", delayed, "Delayed Mail (still being retried)"});
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <directory>\n", argv[0]);
        return 2;
    }
    std::filesystem::path dir = argv[1];
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    for (auto const& s : samples()) {
        dsn_report r;
        r.reporting_mta = "mailhost.corp.example";
        r.to = "alice@corp.example";
        r.subject = s.subject;
        r.date = "Tue, 14 May 2024 09:12:46 +0000";
        r.message_id = "<20240514091246." + s.name + "@mailhost.corp.example>";
        r.arrival_date = "Tue, 14 May 2024 09:12:44 +0000";
        r.recipients = {s.recipient};
        r.original = original;
        std::ofstream out(dir / (s.name + ".eml"), std::ios::binary);
        out << fake_smtp::write_dsn(r);
        if (!out) {
            std::fprintf(stderr, "%s: cannot write %s\n", argv[0], (dir / (s.name + ".eml")).c_str());
            return 1;
        }
        std::printf("%s\n", s.name.c_str());
    }
    return 0;
}
