#include "fake_smtp/dsn.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

namespace {

using fake_smtp::dsn_recipient;
using fake_smtp::dsn_report;
using fake_smtp::write_dsn;

// ---------------------------------------------------------------------------
// A tiny reader for what write_dsn writes: header fields (unfolded), the
// multipart/report body split at its boundary, and delivery-status groups.

struct entity {
    std::vector<std::pair<std::string, std::string>> fields;  ///< name lower-cased, value unfolded
    std::string body;
    std::string get(const std::string& name) const {
        for (auto const& [n, v] : fields)
            if (n == name) return v;
        return "";
    }
    int count(const std::string& name) const {
        int n = 0;
        for (auto const& f : fields) n += f.first == name;
        return n;
    }
};

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(0, 1);
    return s;
}

// RFC 5322 2.2.3: unfolding removes the CRLF before the white space.
std::vector<std::pair<std::string, std::string>> parse_fields(const std::string& block) {
    std::vector<std::pair<std::string, std::string>> out;
    std::size_t at = 0;
    while (at < block.size()) {
        auto end = block.find("\r\n", at);
        if (end == std::string::npos) end = block.size();
        std::string line = block.substr(at, end - at);
        at = end + 2;
        if (line.empty()) continue;
        if ((line[0] == ' ' || line[0] == '\t') && !out.empty()) {
            out.back().second += line;
            continue;
        }
        auto colon = line.find(':');
        if (colon == std::string::npos) {
            out.emplace_back("(bad)", line);
            continue;
        }
        out.emplace_back(lower(line.substr(0, colon)), line.substr(colon + 1));
    }
    for (auto& f : out) f.second = trim(f.second);
    return out;
}

entity parse_entity(const std::string& text) {
    entity e;
    auto blank = text.find("\r\n\r\n");
    if (text.starts_with("\r\n")) {
        e.body = text.substr(2);
        return e;
    }
    if (blank == std::string::npos) {
        e.fields = parse_fields(text);
        return e;
    }
    e.fields = parse_fields(text.substr(0, blank + 2));
    e.body = text.substr(blank + 4);
    return e;
}

std::string param(const std::string& value, const std::string& name) {
    auto at = lower(value).find(name + "=");
    if (at == std::string::npos) return "";
    auto v = value.substr(at + name.size() + 1);
    if (v.starts_with("\"")) return v.substr(1, v.find('"', 1) - 1);
    return v.substr(0, v.find_first_of("; "));
}

struct report_message {
    entity top;
    std::string boundary;
    std::string preamble;
    std::vector<entity> parts;
    std::vector<std::string> raw_parts;
    bool closed = false;   ///< the close delimiter was found
    std::string epilogue;
};

// RFC 2046 5.1.1: a delimiter is CRLF "--" boundary; the close adds "--".
report_message split(const std::string& message) {
    report_message m;
    m.top = parse_entity(message);
    m.boundary = param(m.top.get("content-type"), "boundary");
    if (m.boundary.empty()) return m;
    std::string body = "\r\n" + m.top.body;  // the first delimiter has no CRLF of its own before it
    std::string const delim = "\r\n--" + m.boundary;
    auto at = body.find(delim);
    m.preamble = body.substr(2, at == std::string::npos ? std::string::npos : at - 2);
    while (at != std::string::npos) {
        auto after = at + delim.size();
        if (body.compare(after, 2, "--") == 0) {
            m.closed = true;
            m.epilogue = body.substr(after + 2);
            break;
        }
        auto start = body.find("\r\n", after);
        if (start == std::string::npos) break;
        start += 2;
        auto next = body.find(delim, start);
        auto raw = body.substr(start, next == std::string::npos ? std::string::npos : next - start);
        m.raw_parts.push_back(raw);
        m.parts.push_back(parse_entity(raw));
        at = next;
    }
    return m;
}

// The delivery-status body: per-message group, then the recipient groups.
std::vector<entity> status_groups(const std::string& body) {
    std::vector<entity> groups;
    std::size_t at = 0;
    while (at < body.size()) {
        auto end = body.find("\r\n\r\n", at);
        std::string block = body.substr(at, end == std::string::npos ? std::string::npos : end + 2 - at);
        entity e;
        e.fields = parse_fields(block);
        if (!e.fields.empty()) groups.push_back(e);
        if (end == std::string::npos) break;
        at = end + 4;
    }
    return groups;
}

// Every line ends in CRLF, none is longer than 998 octets, and no CR or LF
// stands alone.
void expect_well_formed_lines(const std::string& m) {
    ASSERT_TRUE(m.ends_with("\r\n"));
    std::size_t at = 0, line_no = 0;
    while (at < m.size()) {
        auto end = m.find("\r\n", at);
        ASSERT_NE(end, std::string::npos);
        auto line = m.substr(at, end - at);
        ++line_no;
        EXPECT_LE(line.size(), 998u) << "line " << line_no;
        EXPECT_EQ(line.find('\r'), std::string::npos) << "line " << line_no;
        EXPECT_EQ(line.find('\n'), std::string::npos) << "line " << line_no;
        EXPECT_EQ(line.find('\0'), std::string::npos) << "line " << line_no;
        at = end + 2;
    }
}

const std::string original =
    "Received: from client.corp.example (client.corp.example [10.1.0.20])\r\n"
    "\tby mailhost.corp.example (mailsim) with ESMTP id 4F2A1\r\n"
    "\tfor <bob@example.net>; Tue, 14 May 2024 09:12:44 +0000\r\n"
    "From: Alice Example <alice@corp.example>\r\n"
    "To: Bob <bob@example.net>\r\n"
    "Subject: Quarterly figures\r\n"
    "Date: Tue, 14 May 2024 09:12:40 +0000\r\n"
    "Message-ID: <20240514091240.1@client.corp.example>\r\n"
    "\r\n"
    "Bob,\r\n"
    "\r\n"
    "the figures are attached.\r\n"
    ".\r\n"
    "-- \r\n"
    "Alice\r\n";

dsn_report failed_report() {
    dsn_report r;
    r.reporting_mta = "mailhost.corp.example";
    r.to = "alice@corp.example";
    r.date = "Tue, 14 May 2024 09:12:46 +0000";
    r.message_id = "<20240514091246.4F2A1.dsn@mailhost.corp.example>";
    r.arrival_date = "Tue, 14 May 2024 09:12:44 +0000";
    r.boundary = "4F2A1.1715677966/mailhost.corp.example";
    dsn_recipient bob;
    bob.final_recipient = "bob@example.net";
    bob.status = "5.1.1";
    bob.remote_mta = "mx.example.net";
    bob.diagnostic = "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown in local recipient table";
    bob.last_attempt = "Tue, 14 May 2024 09:12:46 +0000";
    dsn_recipient carol;
    carol.final_recipient = "rfc822;carol@example.net";
    carol.status = "5.7.1";
    carol.remote_mta = "dns;mx.example.net";
    carol.diagnostic = "smtp;554 5.7.1 <carol@example.net>: Relay access denied";
    carol.last_attempt = "Tue, 14 May 2024 09:12:46 +0000";
    r.recipients = {bob, carol};
    r.original = original;
    return r;
}

dsn_report delayed_report() {
    dsn_report r;
    r.reporting_mta = "exch1.corp.example";
    r.to = "alice@corp.example";
    r.subject = "Delayed Mail (still being retried)";
    r.date = "Tue, 14 May 2024 13:12:44 +0000";
    r.message_id = "<20240514131244.4F2A1.delay@exch1.corp.example>";
    r.arrival_date = "Tue, 14 May 2024 09:12:44 +0000";
    r.original_envelope_id = "QQ314159";
    dsn_recipient d;
    d.final_recipient = "dave@branch.example";
    d.action = "delayed";
    d.status = "4.4.1";
    d.diagnostic = "X-mailsim; connect to mail.branch.example[10.2.0.25]:25: Connection timed out";
    d.last_attempt = "Tue, 14 May 2024 13:12:40 +0000";
    d.will_retry_until = "Thu, 16 May 2024 09:12:44 +0000";
    r.recipients = {d};
    r.original = original;
    r.return_full_message = true;
    return r;
}

// ---------------------------------------------------------------------------

TEST(dsn, structure_parses_back) {
    auto const text = write_dsn(failed_report());
    expect_well_formed_lines(text);
    auto m = split(text);
    EXPECT_EQ(m.top.get("from"), "Mail Delivery System <MAILER-DAEMON@mailhost.corp.example>");
    EXPECT_EQ(m.top.get("to"), "<alice@corp.example>");
    EXPECT_EQ(m.top.get("subject"), "Undelivered Mail Returned to Sender");
    EXPECT_EQ(m.top.get("date"), "Tue, 14 May 2024 09:12:46 +0000");
    EXPECT_EQ(m.top.get("message-id"), "<20240514091246.4F2A1.dsn@mailhost.corp.example>");
    EXPECT_EQ(m.top.get("auto-submitted"), "auto-replied");
    EXPECT_EQ(m.top.get("mime-version"), "1.0");
    auto const ct = m.top.get("content-type");
    EXPECT_TRUE(ct.starts_with("multipart/report;")) << ct;
    EXPECT_EQ(param(ct, "report-type"), "delivery-status");
    EXPECT_EQ(m.boundary, "4F2A1.1715677966/mailhost.corp.example");
    for (auto const& name : {"from", "to", "subject", "date", "message-id", "content-type"})
        EXPECT_EQ(m.top.count(name), 1) << name;
    EXPECT_EQ(m.top.count("(bad)"), 0);

    ASSERT_TRUE(m.closed);
    ASSERT_EQ(m.parts.size(), 3u);
    EXPECT_EQ(m.parts[0].get("content-type"), "text/plain; charset=us-ascii");
    EXPECT_EQ(m.parts[1].get("content-type"), "message/delivery-status");
    EXPECT_EQ(m.parts[2].get("content-type"), "text/rfc822-headers");

    auto groups = status_groups(m.parts[1].body);
    ASSERT_EQ(groups.size(), 3u);
    EXPECT_EQ(groups[0].get("reporting-mta"), "dns; mailhost.corp.example");
    EXPECT_EQ(groups[0].get("arrival-date"), "Tue, 14 May 2024 09:12:44 +0000");
    EXPECT_EQ(groups[0].count("original-envelope-id"), 0);
    EXPECT_EQ(groups[1].get("final-recipient"), "rfc822; bob@example.net");
    EXPECT_EQ(groups[1].get("action"), "failed");
    EXPECT_EQ(groups[1].get("status"), "5.1.1");
    EXPECT_EQ(groups[1].get("remote-mta"), "dns; mx.example.net");
    EXPECT_EQ(groups[1].get("diagnostic-code"),
              "smtp; 550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown in local recipient table");
    EXPECT_EQ(groups[1].get("last-attempt-date"), "Tue, 14 May 2024 09:12:46 +0000");
    EXPECT_EQ(groups[1].count("will-retry-until"), 0);
    // Typed and bare input give the same fields.
    EXPECT_EQ(groups[2].get("final-recipient"), "rfc822; carol@example.net");
    EXPECT_EQ(groups[2].get("remote-mta"), "dns; mx.example.net");
    EXPECT_EQ(groups[2].get("diagnostic-code"), "smtp; 554 5.7.1 <carol@example.net>: Relay access denied");
    EXPECT_EQ(groups[2].get("status"), "5.7.1");

    // The returned headers are the original's header block and nothing of its body.
    auto const head = original.substr(0, original.find("\r\n\r\n") + 2);
    EXPECT_EQ(m.raw_parts[2], m.raw_parts[2].substr(0, m.raw_parts[2].find("\r\n\r\n") + 4) + head);
    EXPECT_EQ(m.raw_parts[2].find("the figures"), std::string::npos);
}

TEST(dsn, human_part_reads_well) {
    auto m = split(write_dsn(failed_report()));
    ASSERT_EQ(m.parts.size(), 3u);
    auto const& text = m.parts[0].body;
    EXPECT_TRUE(text.starts_with("This is the mail system at host mailhost.corp.example.\r\n")) << text;
    EXPECT_NE(text.find("could not be delivered"), std::string::npos) << text;
    EXPECT_NE(text.find("<bob@example.net>: host mx.example.net said: 550 5.1.1"), std::string::npos) << text;
    EXPECT_NE(text.find("the mailbox does not exist"), std::string::npos) << text;
    EXPECT_NE(text.find("<carol@example.net>: host mx.example.net said: 554 5.7.1"), std::string::npos) << text;
    // Wrapped for reading.
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) EXPECT_LE(line.size(), 77u) << line;
}

TEST(dsn, given_human_text_is_used) {
    auto r = failed_report();
    r.human_text = "Your message did not reach some or all of the intended recipients.\n\n"
                   "      Subject:\tQuarterly figures\n";
    auto m = split(write_dsn(r));
    ASSERT_EQ(m.parts.size(), 3u);
    EXPECT_EQ(m.parts[0].body, "Your message did not reach some or all of the intended recipients.\r\n\r\n"
                               "      Subject:\tQuarterly figures\r\n");
}

TEST(dsn, full_message_or_headers) {
    auto r = failed_report();
    r.return_full_message = true;
    auto m = split(write_dsn(r));
    ASSERT_EQ(m.parts.size(), 3u);
    EXPECT_EQ(m.parts[2].get("content-type"), "message/rfc822");
    auto const returned = m.raw_parts[2].substr(m.raw_parts[2].find("\r\n\r\n") + 4);
    EXPECT_EQ(returned, original);
    // A dot line of the original is content here, not an end of anything.
    EXPECT_NE(returned.find("\r\n.\r\n"), std::string::npos);
}

TEST(dsn, delayed_fields) {
    auto const text = write_dsn(delayed_report());
    expect_well_formed_lines(text);
    auto m = split(text);
    ASSERT_EQ(m.parts.size(), 3u);
    EXPECT_EQ(m.top.get("subject"), "Delayed Mail (still being retried)");
    auto groups = status_groups(m.parts[1].body);
    ASSERT_EQ(groups.size(), 2u);
    EXPECT_EQ(groups[0].get("original-envelope-id"), "QQ314159");
    EXPECT_EQ(groups[1].get("action"), "delayed");
    EXPECT_EQ(groups[1].get("status"), "4.4.1");
    EXPECT_EQ(groups[1].count("remote-mta"), 0);
    EXPECT_EQ(groups[1].get("diagnostic-code"),
              "X-mailsim; connect to mail.branch.example[10.2.0.25]:25: Connection timed out");
    EXPECT_EQ(groups[1].get("will-retry-until"), "Thu, 16 May 2024 09:12:44 +0000");
    EXPECT_NE(m.parts[0].body.find("WARNING ONLY"), std::string::npos);
    EXPECT_NE(m.parts[0].body.find("Thu, 16 May 2024 09:12:44 +0000"), std::string::npos);

    // Will-Retry-Until belongs to delayed recipients only (RFC 3464 2.3.9).
    auto r = delayed_report();
    r.recipients[0].action = "failed";
    r.recipients[0].status = "4.4.7";
    auto failed = status_groups(split(write_dsn(r)).parts[1].body);
    EXPECT_EQ(failed[1].count("will-retry-until"), 0);
    EXPECT_EQ(failed[1].get("status"), "4.4.7");
}

TEST(dsn, status_and_action_are_always_valid) {
    auto r = failed_report();
    r.recipients[0].status = "";
    r.recipients[1].status = "5.7.1 denied";
    r.recipients[1].action = "Bounced";
    dsn_recipient d;
    d.final_recipient = "d@example.net";
    d.action = "DELAYED";
    r.recipients.push_back(d);
    auto groups = status_groups(split(write_dsn(r)).parts[1].body);
    ASSERT_EQ(groups.size(), 4u);
    EXPECT_EQ(groups[1].get("status"), "5.0.0");
    EXPECT_EQ(groups[2].get("status"), "5.0.0");
    EXPECT_EQ(groups[2].get("action"), "failed");
    EXPECT_EQ(groups[3].get("action"), "delayed");
    EXPECT_EQ(groups[3].get("status"), "4.0.0");
}

TEST(dsn, long_lines_are_folded) {
    auto r = failed_report();
    std::string words;
    for (int i = 0; i < 150; ++i) words += "word" + std::to_string(i) + " ";
    r.recipients[0].diagnostic = "550-5.1.1 first line of a long reply\n550 5.1.1 " + words;
    r.recipients[1].diagnostic = "554 5.7.1 " + std::string(2500, 'x') + " end";
    r.subject = "Undelivered: " + words;
    auto const text = write_dsn(r);
    expect_well_formed_lines(text);
    auto m = split(text);
    ASSERT_EQ(m.parts.size(), 3u);
    // Unfolding gives back the text (a multi-line reply becomes one line).
    auto groups = status_groups(m.parts[1].body);
    ASSERT_EQ(groups.size(), 3u);
    auto unspaced = [](std::string s) {
        std::string o;
        for (char c : s)
            if (c != ' ') o += c;
        return o;
    };
    EXPECT_EQ(unspaced(groups[1].get("diagnostic-code")),
              unspaced("smtp; 550-5.1.1 first line of a long reply 550 5.1.1 " + words));
    EXPECT_EQ(groups[1].get("diagnostic-code"),
              "smtp; 550-5.1.1 first line of a long reply 550 5.1.1 " + words.substr(0, words.size() - 1));
    // A word longer than a line can be is cut; nothing of it is lost.
    EXPECT_EQ(unspaced(groups[2].get("diagnostic-code")), unspaced("smtp; 554 5.7.1 " + std::string(2500, 'x') + " end"));
    EXPECT_EQ(m.top.get("subject"), "Undelivered: " + words.substr(0, words.size() - 1));
    // Folded lines aim at 78 columns where there is white space to fold at.
    std::size_t at = m.parts[1].body.find("Diagnostic-Code");
    auto line = m.parts[1].body.substr(at, m.parts[1].body.find("\r\n", at) - at);
    EXPECT_LE(line.size(), 78u);
}

TEST(dsn, long_values_in_every_field) {
    std::string const longword(1500, 'z');
    auto r = delayed_report();
    r.reporting_mta = longword + ".example";
    r.to = longword + "@corp.example";
    r.date = longword;
    r.message_id = "<" + longword + ">";
    r.arrival_date = longword;
    r.original_envelope_id = longword;
    r.recipients[0].final_recipient = longword + "@example.net";
    r.recipients[0].remote_mta = longword;
    r.recipients[0].last_attempt = longword;
    r.recipients[0].will_retry_until = longword;
    for (bool full : {false, true}) {
        r.return_full_message = full;
        auto const text = write_dsn(r);
        expect_well_formed_lines(text);
        auto m = split(text);
        EXPECT_TRUE(m.closed);
        EXPECT_EQ(m.parts.size(), 3u);
    }
}

TEST(dsn, long_lines_in_the_original) {
    auto r = failed_report();
    std::string long_header = "X-Long: " + std::string(1500, 'h') + "\r\n";
    std::string folded_header = "X-Words:";
    for (int i = 0; i < 300; ++i) folded_header += " w" + std::to_string(i);
    r.original = long_header + folded_header + "\r\nSubject: x\r\n\r\n" + std::string(3000, 'b') + "\r\n";
    for (bool full : {false, true}) {
        r.return_full_message = full;
        auto const text = write_dsn(r);
        expect_well_formed_lines(text);
        auto m = split(text);
        ASSERT_EQ(m.parts.size(), 3u);
        auto returned = parse_entity(m.raw_parts[2].substr(m.raw_parts[2].find("\r\n\r\n") + 4));
        auto unspaced = [](std::string s) {
            std::string o;
            for (char c : s)
                if (c != ' ') o += c;
            return o;
        };
        EXPECT_EQ(unspaced(returned.get("x-long")), std::string(1500, 'h'));
        EXPECT_EQ(returned.get("x-words"), folded_header.substr(9));
        EXPECT_EQ(returned.get("subject"), "x");
        if (full) {
            // Body lines cannot be folded: cut at 998, nothing lost.
            std::string b;
            for (char c : returned.body)
                if (c == 'b') b += c;
            EXPECT_EQ(b.size(), 3000u);
        }
    }
}

TEST(dsn, boundary_never_occurs_in_the_content) {
    auto r = failed_report();
    // The given boundary occurs in the returned headers: another one is derived.
    r.boundary = "collide";
    r.original = "Subject: --collide\r\nX-Trap: =_mailsim_dsn_\r\n\r\nbody\r\n";
    auto const a = write_dsn(r);
    auto m = split(a);
    EXPECT_NE(m.boundary, "collide");
    ASSERT_EQ(m.parts.size(), 3u);
    for (auto const& p : m.raw_parts) EXPECT_EQ(p.find(m.boundary), std::string::npos);
    EXPECT_EQ(m.top.body.find("--" + m.boundary), m.top.body.find("\r\n--" + m.boundary) + 2);
    // Derived from the content, not from chance: the same report, the same bytes.
    EXPECT_EQ(write_dsn(r), a);

    // Empty or unusable boundaries are replaced too.
    for (std::string b : std::vector<std::string>{"", std::string(71, 'b'), "bad\"quote", "ends in space "}) {
        r.boundary = b;
        auto mm = split(write_dsn(r));
        EXPECT_NE(mm.boundary, b);
        EXPECT_FALSE(mm.boundary.empty());
        EXPECT_EQ(mm.parts.size(), 3u) << b;
    }

    // A report that quotes the derived boundary still gets a fresh one.
    r.boundary = "";
    auto first = split(write_dsn(r)).boundary;
    r.original = "Subject: " + first + "\r\n\r\n";
    auto second = split(write_dsn(r));
    EXPECT_NE(second.boundary, first);
    for (auto const& p : second.raw_parts) EXPECT_EQ(p.find(second.boundary), std::string::npos);
}

TEST(dsn, eight_bit_headers_do_not_break_the_structure) {
    auto r = failed_report();
    r.original = std::string("Subject: R\xc3\xa9sum\xc3\xa9 \xff\xfe\r\nX-Nul: a") + '\0' +
                 "b\r\nX-CR: one\rtwo\r\nX-LF: three\nfour\r\n\r\nbody\r\n";
    r.recipients[0].diagnostic = "550 5.1.1 Benutzer unbekannt: M\xc3\xbcller";
    auto const text = write_dsn(r);
    expect_well_formed_lines(text);
    auto m = split(text);
    ASSERT_TRUE(m.closed);
    ASSERT_EQ(m.parts.size(), 3u);
    EXPECT_EQ(m.top.get("content-transfer-encoding"), "8bit");
    EXPECT_EQ(m.parts[2].get("content-transfer-encoding"), "8bit");
    EXPECT_EQ(m.parts[1].get("content-transfer-encoding"), "");
    // RFC 3464 2.1: the delivery-status part stays US-ASCII.
    for (char c : m.parts[1].body) EXPECT_LT(static_cast<unsigned char>(c), 0x80);
    auto returned = parse_entity(m.raw_parts[2].substr(m.raw_parts[2].find("\r\n\r\n") + 4));
    EXPECT_EQ(returned.get("subject"), "R\xc3\xa9sum\xc3\xa9 \xff\xfe");
    EXPECT_EQ(returned.get("x-cr"), "one");  // the lone CR ended a line
    EXPECT_EQ(returned.get("x-lf"), "three");

    // A 7-bit original declares nothing.
    auto plain = split(write_dsn(failed_report()));
    EXPECT_EQ(plain.top.get("content-transfer-encoding"), "");
    EXPECT_EQ(plain.parts[2].get("content-transfer-encoding"), "");
}

TEST(dsn, eight_bit_subject_and_human_text) {
    auto r = failed_report();
    r.subject = "Unzustellbar: Pr\xc3\xbc" "fung";
    r.human_text = "Die Nachricht konnte nicht zugestellt werden: M\xc3\xbcller\r\n";
    auto m = split(write_dsn(r));
    EXPECT_EQ(m.top.get("subject"), "=?UTF-8?B?VW56dXN0ZWxsYmFyOiBQcsO8ZnVuZw==?=");
    EXPECT_EQ(m.parts[0].get("content-type"), "text/plain; charset=utf-8");
    EXPECT_EQ(m.parts[0].get("content-transfer-encoding"), "8bit");
    EXPECT_EQ(m.top.get("content-transfer-encoding"), "8bit");
}

TEST(dsn, header_injection_is_not_possible) {
    auto r = failed_report();
    r.to = "alice@corp.example>\r\nBcc: <eve@evil.example";
    r.subject = "hi\r\nX-Injected: yes";
    auto m = split(write_dsn(r));
    EXPECT_EQ(m.top.count("bcc"), 0);
    EXPECT_EQ(m.top.count("x-injected"), 0);
}

TEST(dsn, sender_of_the_report) {
    auto r = failed_report();
    r.from = "postmaster@corp.example";
    EXPECT_EQ(split(write_dsn(r)).top.get("from"), "postmaster@corp.example");
    r.from = "Exchange Administrator <exadmin@corp.example>";
    EXPECT_EQ(split(write_dsn(r)).top.get("from"), "Exchange Administrator <exadmin@corp.example>");
    r.from = "postmaster";
    EXPECT_EQ(split(write_dsn(r)).top.get("from"), "Mail Delivery System <postmaster@mailhost.corp.example>");
}

TEST(dsn, message_id_is_derived_when_missing) {
    auto r = failed_report();
    r.message_id = "";
    auto id = split(write_dsn(r)).top.get("message-id");
    EXPECT_TRUE(id.starts_with("<") && id.ends_with(".dsn@mailhost.corp.example>")) << id;
    EXPECT_EQ(split(write_dsn(r)).top.get("message-id"), id);
    r.recipients[0].status = "5.1.2";
    EXPECT_NE(split(write_dsn(r)).top.get("message-id"), id);
}

TEST(dsn, no_original_means_two_parts) {
    auto r = failed_report();
    r.original = "";
    auto m = split(write_dsn(r));
    EXPECT_TRUE(m.closed);
    EXPECT_EQ(m.parts.size(), 2u);
}

TEST(dsn, original_without_a_body) {
    auto r = failed_report();
    r.original = "Subject: only headers\r\nFrom: a@b";
    r.return_full_message = false;
    auto m = split(write_dsn(r));
    ASSERT_EQ(m.parts.size(), 3u);
    EXPECT_EQ(m.raw_parts[2].substr(m.raw_parts[2].find("\r\n\r\n") + 4), "Subject: only headers\r\nFrom: a@b\r\n");
}

// Golden files: the exact bytes for two fixed reports. When the format
// changes on purpose, regenerate with MAILSIM_UPDATE_GOLDEN=1 and review the diff.
void golden(const std::string& name, const std::string& actual) {
    std::string const path = std::string(MAILSIM_SOURCE_DIR) + "/tests/data/dsn/" + name;
    if (std::getenv("MAILSIM_UPDATE_GOLDEN")) {
        std::ofstream(path, std::ios::binary) << actual;
        return;
    }
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << "missing " << path << " (MAILSIM_UPDATE_GOLDEN=1 writes it)";
    std::string expected((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(actual, expected) << name;
}

TEST(dsn, golden_failed_headers_only) { golden("failed_headers.eml", write_dsn(failed_report())); }

TEST(dsn, golden_delayed_full_message) { golden("delayed_full.eml", write_dsn(delayed_report())); }

}  // namespace
