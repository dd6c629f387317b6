#include "fake_smtp/server_session.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace {

using namespace fake_smtp;
using kind = server_action::kind;
using act = phase_rule::action;

// ---------------------------------------------------------------------------
// Harness

// A host policy with a few fixed answers, and rules set per test.
struct test_policy : server_policy {
    std::map<phase, phase_rule> rules;
    std::vector<phase> asked;
    std::vector<std::string> recipients_checked;
    std::vector<std::size_t> rcpts_before_check;  // how many accepted recipients the envelope had
    std::vector<std::string> senders_checked;

    std::optional<phase_rule> rule_at(phase p) override {
        asked.push_back(p);
        auto it = rules.find(p);
        if (it == rules.end()) return std::nullopt;
        return it->second;
    }
    std::optional<reply> check_sender(const envelope&, const std::string& reverse_path) override {
        senders_checked.push_back(reverse_path);
        if (reverse_path == "spammer@bad.example")
            return reply{550, "5.7.1", "<spammer@bad.example>: Sender address rejected: Access denied"};
        if (reverse_path == "plain@bad.example") return reply{550, "", "no enhanced code here"};
        return std::nullopt;
    }
    std::optional<reply> check_recipient(const envelope& env, const std::string& forward_path) override {
        recipients_checked.push_back(forward_path);
        rcpts_before_check.push_back(env.rcpt_to.size());
        if (forward_path == "nobody@example.net")
            return reply{550, "5.1.1",
                         "<nobody@example.net>: Recipient address rejected: User unknown in local recipient table"};
        if (forward_path.ends_with("@elsewhere.example"))
            return reply{554, "5.7.1", "<" + forward_path + ">: Relay access denied"};
        if (forward_path == "busy@example.net") return reply{450, "4.2.0", "<busy@example.net>: Mailbox busy"};
        return std::nullopt;
    }
};

std::string escape(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        if (c == '\r') out += "\\r";
        else if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c < 32 || c >= 127) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

// One action as text: a reply's lines (CRLF shown as a newline), or "=> ..." lines.
std::string render(const server_action& a) {
    switch (a.what) {
    case kind::write: {
        // Every write is exactly one well-formed reply, CRLF-terminated.
        reply r;
        EXPECT_TRUE(parse_reply(a.bytes, r)) << escape(a.bytes);
        std::string out;
        std::string_view b = a.bytes;
        while (!b.empty()) {
            auto crlf = b.find("\r\n");
            EXPECT_NE(crlf, std::string_view::npos) << escape(a.bytes);
            if (crlf == std::string_view::npos) break;
            auto line = b.substr(0, crlf);
            EXPECT_EQ(line.find_first_of("\r\n"), std::string_view::npos) << escape(a.bytes);
            out.append(line);
            out += '\n';
            b.remove_prefix(crlf + 2);
        }
        return out;
    }
    case kind::deliver: {
        std::string to;
        for (auto const& r : a.env.rcpt_to) to += (to.empty() ? "<" : ",<") + r + ">";
        return "=> deliver from=<" + a.env.mail_from + "> to=" + to + " helo=" + a.env.helo + " client=" +
               a.env.client_address + " esmtp=" + std::to_string(a.env.esmtp) + " 8bit=" +
               std::to_string(a.env.body_8bit) + " size=" + std::to_string(a.env.declared_size) + "\n=> data \"" +
               escape(a.data) + "\"\n";
    }
    case kind::close:
        return "=> close\n";
    }
    return "?";
}

std::string render(const std::vector<server_action>& acts) {
    std::string out;
    for (auto const& a : acts) out += render(a);
    return out;
}

// A session with its policy; deliver actions are answered at once (as the
// shell does after storing), with ids Q1, Q2...
struct harness {
    server_config config;
    test_policy policy;
    std::optional<server_session> session;
    std::vector<server_action> actions;  // every action, including those after on_delivered
    std::vector<server_action> delivered;
    bool auto_deliver = true;
    std::optional<reply> delivery_failure;
    int next_id = 1;

    harness() {
        config.hostname = "mx.example";
        config.max_message_size = 10485760;
    }
    server_session& s() {
        if (!session) session.emplace(config, policy, "127.25.200.25");
        return *session;
    }
    std::string take(std::vector<server_action> acts) {
        std::string out;
        for (auto& a : acts) {
            out += render(a);
            actions.push_back(a);
            if (a.what == kind::deliver) {
                delivered.push_back(a);
                if (auto_deliver) out += take(s().on_delivered("Q" + std::to_string(next_id++), delivery_failure));
            }
        }
        return out;
    }
    std::string connect(std::optional<reply> forced = std::nullopt) { return take(s().on_connect(forced)); }
    std::string feed(std::string_view bytes) {
        if (!session) connect();
        return take(s().feed(bytes));
    }
    std::string deliver(const std::string& id, std::optional<reply> failure = std::nullopt) {
        return take(s().on_delivered(id, failure));
    }
    std::string timeout() { return take(s().on_idle_timeout()); }
    int count(kind k) const {
        int n = 0;
        for (auto const& a : actions) n += a.what == k;
        return n;
    }
};

constexpr std::string_view banner = "220 mx.example ESMTP mailsim\n";
constexpr std::string_view ehlo_reply =
    "250-mx.example\n250-SIZE 10485760\n250-8BITMIME\n250-PIPELINING\n250 ENHANCEDSTATUSCODES\n";
constexpr std::string_view envelope_cmds =
    "EHLO client.example\r\nMAIL FROM:<alice@corp.example>\r\nRCPT TO:<bob@example.net>\r\n";
constexpr std::string_view envelope_replies = "250 2.1.0 Ok\n250 2.1.5 Ok\n";

// Dot-stuffs stored data as a relay writes it (RFC 5321 4.5.2) and ends it.
std::string relayed(std::string_view data) {
    std::string out;
    bool line_start = true;
    for (char c : data) {
        if (line_start && c == '.') out += '.';
        out += c;
        line_start = c == '\n';
    }
    return out + ".\r\n";
}

// What a relay sends for `data` contains the end-of-data sequence only at its end.
::testing::AssertionResult ends_only_at_the_end(std::string_view data) {
    if (!data.empty() && !data.ends_with("\r\n")) return ::testing::AssertionFailure() << "no final CRLF";
    auto wire = "\r\n" + relayed(data);  // the DATA command's CRLF precedes the content
    auto first = wire.find("\r\n.\r\n");
    if (first != wire.size() - 5)
        return ::testing::AssertionFailure() << "end-of-data at " << first << " of " << wire.size() << ": "
                                             << escape(wire);
    return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------
// Greeting, HELO/EHLO

TEST(server_session, banner_and_ehlo) {
    harness h;
    EXPECT_EQ(h.connect(), banner);
    EXPECT_EQ(h.s().current_phase(), phase::banner);
    EXPECT_EQ(h.feed("EHLO client.example\r\n"), ehlo_reply);
    EXPECT_EQ(h.s().current_phase(), phase::ehlo);
    EXPECT_EQ(h.feed("HELO client.example\r\n"), "250 mx.example\n");
}

TEST(server_session, ehlo_without_size_limit_or_pipelining) {
    harness h;
    h.config.max_message_size = 0;
    h.config.pipelining = false;
    h.config.banner_text = "";
    EXPECT_EQ(h.connect(), "220 mx.example\n");
    // RFC 1870 4: SIZE alone means no fixed limit.
    EXPECT_EQ(h.feed("EHLO x\r\n"), "250-mx.example\n250-SIZE\n250-8BITMIME\n250 ENHANCEDSTATUSCODES\n");
}

TEST(server_session, empty_hostname_becomes_localhost) {
    harness h;
    h.config.hostname = "";
    EXPECT_EQ(h.connect(), "220 localhost ESMTP mailsim\n");
}

TEST(server_session, forced_greeting_closes) {
    harness h;
    EXPECT_EQ(h.connect(reply{421, "4.7.0", "mx.example Error: too many connections from 127.25.200.25"}),
              "421 4.7.0 mx.example Error: too many connections from 127.25.200.25\n=> close\n");
    EXPECT_TRUE(h.s().closed());
    EXPECT_TRUE(h.s().feed("EHLO x\r\n").empty());
    EXPECT_TRUE(h.s().on_idle_timeout().empty());
    EXPECT_TRUE(h.policy.asked.empty());  // the banner rule is not even asked
}

TEST(server_session, early_talker_is_answered_after_the_banner) {
    harness h;
    EXPECT_TRUE(h.s().feed("EHLO early.example\r\nNOOP\r\n").empty());
    EXPECT_EQ(h.connect(), std::string(banner) + std::string(ehlo_reply) + "250 2.0.0 Ok\n");
    EXPECT_TRUE(h.s().on_connect().empty());  // only once
}

// ---------------------------------------------------------------------------
// Every command's replies, table-driven: after `setup`, `command` gets `expect`.

struct reply_case {
    std::string name, setup, command, expect;
};

void PrintTo(const reply_case& c, std::ostream* os) { *os << c.name; }

class command_replies : public testing::TestWithParam<reply_case> {};

TEST_P(command_replies, reply) {
    auto const& c = GetParam();
    harness h;
    h.connect();
    h.feed(c.setup);
    EXPECT_EQ(h.feed(c.command), c.expect) << "after: " << escape(c.setup);
}

std::string const hello = "EHLO client.example\r\n";
std::string const in_mail = hello + "MAIL FROM:<alice@corp.example>\r\n";
std::string const in_rcpt = in_mail + "RCPT TO:<bob@example.net>\r\n";

INSTANTIATE_TEST_SUITE_P(
    all, command_replies,
    testing::Values(
        reply_case{"helo_without_name", "", "HELO\r\n", "501 Syntax: HELO hostname\n"},
        reply_case{"ehlo_without_name", "", "EHLO \r\n", "501 Syntax: EHLO hostname\n"},
        reply_case{"helo_lowercase", "", "helo x\r\n", "250 mx.example\n"},
        reply_case{"mail_before_helo", "", "MAIL FROM:<a@b.example>\r\n", "503 5.5.1 Error: send HELO/EHLO first\n"},
        reply_case{"mail", hello, "MAIL FROM:<a@b.example>\r\n", "250 2.1.0 Ok\n"},
        reply_case{"mail_null_sender", hello, "MAIL FROM:<>\r\n", "250 2.1.0 Ok\n"},
        reply_case{"mail_space_after_colon", hello, "MAIL FROM: <a@b.example>\r\n", "250 2.1.0 Ok\n"},
        reply_case{"mail_nested", in_mail, "MAIL FROM:<a@b.example>\r\n", "503 5.5.1 Error: nested MAIL command\n"},
        reply_case{"mail_no_from", hello, "MAIL <a@b.example>\r\n", "501 5.5.4 Syntax: MAIL FROM:<address>\n"},
        reply_case{"mail_nothing", hello, "MAIL\r\n", "501 5.5.4 Syntax: MAIL FROM:<address>\n"},
        reply_case{"mail_bad_address", hello, "MAIL FROM:<a b@c>\r\n", "501 5.1.7 Bad sender address syntax\n"},
        reply_case{"mail_unclosed", hello, "MAIL FROM:<a@b.example\r\n", "501 5.1.7 Bad sender address syntax\n"},
        reply_case{"mail_size_ok", hello, "MAIL FROM:<a@b.example> SIZE=10485760\r\n", "250 2.1.0 Ok\n"},
        reply_case{"mail_size_over", hello, "MAIL FROM:<a@b.example> SIZE=10485761\r\n",
                   "552 5.3.4 Message size exceeds fixed limit\n"},
        reply_case{"mail_size_overflow", hello, "MAIL FROM:<a@b.example> SIZE=99999999999999999999999\r\n",
                   "552 5.3.4 Message size exceeds file system imposed limit\n"},
        reply_case{"mail_size_syntax", hello, "MAIL FROM:<a@b.example> SIZE=10k\r\n",
                   "501 5.5.4 Bad message size syntax\n"},
        reply_case{"mail_body_8bit", hello, "MAIL FROM:<a@b.example> BODY=8BITMIME\r\n", "250 2.1.0 Ok\n"},
        reply_case{"mail_body_7bit", hello, "MAIL FROM:<a@b.example> body=7bit\r\n", "250 2.1.0 Ok\n"},
        reply_case{"mail_body_binary", hello, "MAIL FROM:<a@b.example> BODY=BINARYMIME\r\n",
                   "555 5.5.4 Unsupported option: BODY=BINARYMIME\n"},
        reply_case{"mail_unknown_param", hello, "MAIL FROM:<a@b.example> RET=HDRS\r\n",
                   "555 5.5.4 Unsupported option: RET=HDRS\n"},
        reply_case{"mail_bad_param", hello, "MAIL FROM:<a@b.example> =x\r\n", "555 5.5.4 Unsupported option: =x\n"},
        reply_case{"mail_refused_by_policy", hello, "MAIL FROM:<spammer@bad.example>\r\n",
                   "550 5.7.1 <spammer@bad.example>: Sender address rejected: Access denied\n"},
        reply_case{"mail_refusal_gets_enhanced_code", hello, "MAIL FROM:<plain@bad.example>\r\n",
                   "550 5.7.1 no enhanced code here\n"},
        reply_case{"rcpt_before_mail", hello, "RCPT TO:<bob@example.net>\r\n", "503 5.5.1 Error: need MAIL command\n"},
        reply_case{"rcpt", in_mail, "RCPT TO:<bob@example.net>\r\n", "250 2.1.5 Ok\n"},
        reply_case{"rcpt_postmaster", in_mail, "RCPT TO:<Postmaster>\r\n", "250 2.1.5 Ok\n"},
        reply_case{"rcpt_no_to", in_mail, "RCPT <bob@example.net>\r\n", "501 5.5.4 Syntax: RCPT TO:<address>\n"},
        reply_case{"rcpt_bad_address", in_mail, "RCPT TO:<bob>\r\n", "501 5.1.3 Bad recipient address syntax\n"},
        reply_case{"rcpt_null", in_mail, "RCPT TO:<>\r\n", "501 5.1.3 Bad recipient address syntax\n"},
        reply_case{"rcpt_param", in_mail, "RCPT TO:<bob@example.net> NOTIFY=NEVER\r\n",
                   "555 5.5.4 Unsupported option: NOTIFY=NEVER\n"},
        reply_case{"rcpt_unknown_user", in_mail, "RCPT TO:<nobody@example.net>\r\n",
                   "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown in local recipient "
                   "table\n"},
        reply_case{"rcpt_relay_denied", in_mail, "RCPT TO:<x@elsewhere.example>\r\n",
                   "554 5.7.1 <x@elsewhere.example>: Relay access denied\n"},
        reply_case{"rcpt_temporary", in_mail, "RCPT TO:<busy@example.net>\r\n",
                   "450 4.2.0 <busy@example.net>: Mailbox busy\n"},
        reply_case{"data_before_mail", hello, "DATA\r\n", "503 5.5.1 Error: need RCPT command\n"},
        reply_case{"data_before_rcpt", in_mail, "DATA\r\n", "503 5.5.1 Error: need RCPT command\n"},
        reply_case{"data_no_valid_rcpt", in_mail + "RCPT TO:<nobody@example.net>\r\n", "DATA\r\n",
                   "554 5.5.1 Error: no valid recipients\n"},
        reply_case{"data_with_argument", in_rcpt, "DATA now\r\n", "501 5.5.4 Syntax: DATA\n"},
        reply_case{"data", in_rcpt, "DATA\r\n", "354 End data with <CR><LF>.<CR><LF>\n"},
        reply_case{"rset", in_rcpt, "RSET\r\n", "250 2.0.0 Ok\n"},
        reply_case{"rset_with_argument", in_rcpt, "RSET now\r\n", "501 5.5.4 Syntax: RSET\n"},
        reply_case{"noop", "", "NOOP\r\n", "250 2.0.0 Ok\n"},
        reply_case{"noop_with_argument", "", "NOOP anything\r\n", "250 2.0.0 Ok\n"},
        reply_case{"vrfy", "", "VRFY bob\r\n", "252 2.0.0 Cannot VRFY user, but will accept message\n"},
        reply_case{"vrfy_without_argument", "", "VRFY\r\n", "501 5.5.4 Syntax: VRFY address\n"},
        reply_case{"help", "", "HELP\r\n",
                   "214-2.0.0 Commands supported:\n214-2.0.0 HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP\n"
                   "214 2.0.0 End of HELP info\n"},
        reply_case{"help_topic", "", "HELP MAIL\r\n",
                   "214-2.0.0 Commands supported:\n214-2.0.0 HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP\n"
                   "214 2.0.0 End of HELP info\n"},
        reply_case{"expn", "", "EXPN staff\r\n", "502 5.5.2 Error: command not recognized\n"},
        reply_case{"starttls", hello, "STARTTLS\r\n", "502 5.5.1 Error: command not implemented\n"},
        reply_case{"auth", hello, "AUTH PLAIN AGJvYgBzZWNyZXQ=\r\n", "502 5.5.1 Error: command not implemented\n"},
        reply_case{"bdat", in_rcpt, "BDAT 0 LAST\r\n", "502 5.5.1 Error: command not implemented\n"},
        reply_case{"unknown", "", "XYZZY\r\n", "502 5.5.2 Error: command not recognized\n"},
        reply_case{"http", "", "GET / HTTP/1.1\r\n", "502 5.5.2 Error: command not recognized\n"},
        reply_case{"empty_line", "", "\r\n", "500 5.5.2 Error: bad syntax\n"},
        reply_case{"blank_line", "", "  \t \r\n", "500 5.5.2 Error: bad syntax\n"},
        reply_case{"bare_lf_line", "", "\n", "500 5.5.2 Error: bad syntax\n"},
        reply_case{"nul_in_command", "", std::string("NOOP a\0b\r\n", 10), "500 5.5.2 Error: bad syntax\n"},
        reply_case{"bare_cr_in_command", "", "NOOP a\rb\r\n", "500 5.5.2 Error: bad syntax\n"},
        reply_case{"cr_cr_lf", "", "NOOP\r\r\n", "500 5.5.2 Error: bad syntax\n"},
        reply_case{"quit", "", "QUIT\r\n", "221 2.0.0 Bye\n=> close\n"},
        reply_case{"quit_bare_lf", "", "quit\n", "221 2.0.0 Bye\n=> close\n"}),
    [](const testing::TestParamInfo<reply_case>& i) { return i.param.name; });

// ---------------------------------------------------------------------------
// Transactions

TEST(server_session, one_transaction_delivers_the_envelope_and_data) {
    harness h;
    h.auto_deliver = false;
    h.connect();
    EXPECT_EQ(h.feed("EHLO client.example\r\n"), ehlo_reply);
    EXPECT_EQ(h.feed("MAIL FROM:<alice@corp.example> SIZE=120 BODY=8BITMIME\r\n"), "250 2.1.0 Ok\n");
    EXPECT_EQ(h.s().current_phase(), phase::mail);
    EXPECT_EQ(h.feed("RCPT TO:<bob@example.net>\r\n"), "250 2.1.5 Ok\n");
    EXPECT_EQ(h.s().current_phase(), phase::rcpt);
    EXPECT_EQ(h.feed("RCPT TO:<nobody@example.net>\r\n").substr(0, 10), "550 5.1.1 ");
    EXPECT_EQ(h.feed("RCPT TO:<postmaster>\r\n"), "250 2.1.5 Ok\n");
    EXPECT_EQ(h.feed("DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\n");
    EXPECT_EQ(h.s().current_phase(), phase::data);
    EXPECT_EQ(h.feed("Subject: hi\r\n\r\nhello\r\n"), "");
    auto out = h.feed(".\r\n");
    ASSERT_EQ(h.delivered.size(), 1u);
    auto const& d = h.delivered[0];
    EXPECT_EQ(d.env.helo, "client.example");
    EXPECT_EQ(d.env.client_address, "127.25.200.25");
    EXPECT_EQ(d.env.mail_from, "alice@corp.example");
    EXPECT_EQ(d.env.rcpt_to, (std::vector<std::string>{"bob@example.net", "postmaster"}));
    EXPECT_TRUE(d.env.esmtp);
    EXPECT_TRUE(d.env.body_8bit);
    EXPECT_EQ(d.env.declared_size, 120u);
    EXPECT_EQ(d.data, "Subject: hi\r\n\r\nhello\r\n");
    EXPECT_EQ(h.s().current_phase(), phase::dot);
    // Nothing is said until the message is stored.
    EXPECT_EQ(h.s().feed("NOOP\r\n").size(), 0u);
    EXPECT_EQ(h.deliver("4XyZ1"), "250 2.0.0 Ok: queued as 4XyZ1\n250 2.0.0 Ok\n");
    EXPECT_EQ(h.s().current_phase(), phase::ehlo);
    // RFC 5321 4.1.1.4: the transaction is over; a new one needs no RSET.
    EXPECT_EQ(h.feed("RCPT TO:<bob@example.net>\r\n"), "503 5.5.1 Error: need MAIL command\n");
    EXPECT_EQ(h.feed("MAIL FROM:<>\r\n"), "250 2.1.0 Ok\n");
    // A second on_delivered is ignored.
    EXPECT_TRUE(h.s().on_delivered("again").empty());
}

TEST(server_session, helo_session_and_policy_arguments) {
    harness h;
    h.connect();
    h.feed("HELO old.example\r\nMAIL FROM:<>\r\nRCPT TO:<Postmaster>\r\nRCPT TO:<bob@example.net>\r\n"
           "DATA\r\nx\r\n.\r\n");
    ASSERT_EQ(h.delivered.size(), 1u);
    EXPECT_FALSE(h.delivered[0].env.esmtp);
    EXPECT_FALSE(h.delivered[0].env.body_8bit);
    EXPECT_EQ(h.delivered[0].env.declared_size, 0u);
    EXPECT_EQ(h.delivered[0].env.mail_from, "");
    // The policy sees <postmaster> as sent, and the recipients accepted so far.
    EXPECT_EQ(h.policy.recipients_checked, (std::vector<std::string>{"Postmaster", "bob@example.net"}));
    EXPECT_EQ(h.policy.rcpts_before_check, (std::vector<std::size_t>{0, 1}));
    EXPECT_EQ(h.policy.senders_checked, (std::vector<std::string>{""}));
}

TEST(server_session, delivery_failure_is_the_reply_and_ends_the_transaction) {
    harness h;
    h.delivery_failure = reply{451, "4.3.0", "Error: queue file write error"};
    h.connect();
    EXPECT_EQ(h.feed(std::string(envelope_cmds) + "DATA\r\nx\r\n.\r\nMAIL FROM:<a@b.example>\r\n"),
              std::string(ehlo_reply) + std::string(envelope_replies) +
                  "354 End data with <CR><LF>.<CR><LF>\n=> deliver from=<alice@corp.example> to=<bob@example.net> "
                  "helo=client.example client=127.25.200.25 esmtp=1 8bit=0 size=0\n=> data \"x\\r\\n\"\n"
                  "451 4.3.0 Error: queue file write error\n250 2.1.0 Ok\n");
}

TEST(server_session, delivery_failure_replies_are_made_well_formed) {
    harness h;
    h.auto_deliver = false;
    h.connect();
    h.feed(std::string(envelope_cmds) + "DATA\r\nx\r\n.\r\n");
    EXPECT_EQ(h.deliver("", reply{200, "", ""}), "451 4.3.0 Error\n");
    h.feed(std::string(envelope_cmds) + "DATA\r\nx\r\n.\r\n");
    EXPECT_EQ(h.deliver("", reply{554, "", "5.6.0 looks like spam"}), "554 5.6.0 looks like spam\n");
    h.feed(std::string(envelope_cmds) + "DATA\r\nx\r\n.\r\n");
    // RFC 5321 3.8: 421 closes the channel.
    EXPECT_EQ(h.deliver("", reply{421, "4.3.2", "mx.example shutting down"}),
              "421 4.3.2 mx.example shutting down\n=> close\n");
    EXPECT_TRUE(h.s().closed());
}

TEST(server_session, queue_id_cannot_break_the_reply) {
    harness h;
    h.auto_deliver = false;
    h.connect();
    h.feed(std::string(envelope_cmds) + "DATA\r\nx\r\n.\r\n");
    EXPECT_EQ(h.deliver("A\r\nB"), "250 2.0.0 Ok: queued as A  B\n");
}

TEST(server_session, helo_and_rset_reset_the_transaction) {
    harness h;
    h.connect();
    EXPECT_EQ(h.feed(in_mail + "EHLO again.example\r\nRCPT TO:<bob@example.net>\r\n"),
              std::string(ehlo_reply) + "250 2.1.0 Ok\n" + std::string(ehlo_reply) +
                  "503 5.5.1 Error: need MAIL command\n");
    EXPECT_EQ(h.feed("MAIL FROM:<a@b.example>\r\nRSET\r\nDATA\r\n"),
              "250 2.1.0 Ok\n250 2.0.0 Ok\n503 5.5.1 Error: need RCPT command\n");
    EXPECT_EQ(h.s().current_phase(), phase::ehlo);
}

// ---------------------------------------------------------------------------
// Pipelining (RFC 2920)

TEST(server_session, whole_transaction_in_one_packet) {
    harness h;
    h.connect();
    auto out = h.feed(
        "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.net>\r\nRCPT TO:<nobody@example.net>\r\n"
        "RCPT TO:<carol@example.net>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n");
    EXPECT_EQ(out, std::string(ehlo_reply) +
                       "250 2.1.0 Ok\n250 2.1.5 Ok\n550 5.1.1 <nobody@example.net>: Recipient address rejected: User "
                       "unknown in local recipient table\n250 2.1.5 Ok\n354 End data with <CR><LF>.<CR><LF>\n"
                       "=> deliver from=<a@b.example> to=<bob@example.net>,<carol@example.net> helo=c.example "
                       "client=127.25.200.25 esmtp=1 8bit=0 size=0\n=> data \"Subject: x\\r\\n\\r\\nbody\\r\\n\"\n"
                       "250 2.0.0 Ok: queued as Q1\n221 2.0.0 Bye\n=> close\n");
    // One write per reply (the banner's too), in order, none lost.
    EXPECT_EQ(h.count(kind::write), 9);
}

TEST(server_session, second_pipelined_transaction_waits_for_the_first_delivery) {
    harness h;
    h.auto_deliver = false;
    h.connect();
    auto first = h.feed(std::string(envelope_cmds) + "DATA\r\none\r\n.\r\n" +
                        "MAIL FROM:<carol@corp.example>\r\nRCPT TO:<dave@example.net>\r\nDATA\r\ntwo\r\n.\r\nQUIT\r\n");
    EXPECT_EQ(first, std::string(ehlo_reply) + std::string(envelope_replies) +
                         "354 End data with <CR><LF>.<CR><LF>\n=> deliver from=<alice@corp.example> "
                         "to=<bob@example.net> helo=client.example client=127.25.200.25 esmtp=1 8bit=0 size=0\n"
                         "=> data \"one\\r\\n\"\n");
    // More input while the message is stored waits too.
    EXPECT_TRUE(h.s().feed("").empty());
    auto second = h.deliver("Q1");
    EXPECT_EQ(second, "250 2.0.0 Ok: queued as Q1\n250 2.1.0 Ok\n250 2.1.5 Ok\n354 End data with <CR><LF>.<CR><LF>\n"
                      "=> deliver from=<carol@corp.example> to=<dave@example.net> helo=client.example "
                      "client=127.25.200.25 esmtp=1 8bit=0 size=0\n=> data \"two\\r\\n\"\n");
    EXPECT_EQ(h.deliver("Q2"), "250 2.0.0 Ok: queued as Q2\n221 2.0.0 Bye\n=> close\n");
    EXPECT_EQ(h.count(kind::deliver), 2);
}

// ---------------------------------------------------------------------------
// Any split of the input gives the same actions (Beast's "parsegrind").

std::vector<std::string> run_split(const std::vector<std::string_view>& pieces, server_config config) {
    test_policy policy;
    server_session s(config, policy, "127.25.200.25");
    std::vector<std::string> out;
    int id = 0;
    std::function<void(std::vector<server_action>)> take = [&](std::vector<server_action> acts) {
        for (auto& a : acts) {
            out.push_back(render(a));
            if (a.what == kind::deliver) take(s.on_delivered("Q" + std::to_string(++id)));
        }
    };
    take(s.on_connect());
    for (auto p : pieces) take(s.feed(p));
    take(s.on_idle_timeout());
    return out;
}

void expect_any_split(std::string_view input, server_config config = {}) {
    if (config.hostname.empty()) config.hostname = "mx.example";
    auto const whole = run_split({input}, config);
    for (std::size_t i = 0; i <= input.size(); ++i) {
        auto two = run_split({input.substr(0, i), input.substr(i)}, config);
        ASSERT_EQ(two, whole) << "split at " << i;
    }
    for (std::size_t i = 0; i + 1 < input.size(); i += 7) {
        auto three = run_split({input.substr(0, i), input.substr(i, 1), input.substr(i + 1)}, config);
        ASSERT_EQ(three, whole) << "split around " << i;
    }
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < input.size(); ++i) bytes.push_back(input.substr(i, 1));
    ASSERT_EQ(run_split(bytes, config), whole) << "byte by byte";
}

TEST(server_session, any_split_plain_transaction) {
    expect_any_split(
        "EHLO c.example\r\nMAIL FROM:<a@b.example> SIZE=40\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n"
        "Subject: x\r\n..stuffed\r\n.\r\nNOOP\r\nQUIT\r\n");
}

TEST(server_session, any_split_bare_lf_and_smuggling) {
    expect_any_split(
        "helo c\nmail from:<a@b.example>\nrcpt to:<bob@example.net>\ndata\nline\n.\nMAIL FROM:<x@y.example>\r\n"
        "\r\n.\r\nrset\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\nbad\r.\r\nmore\r\n.\r\n"
        "QUIT\r\n");
}

TEST(server_session, any_split_errors_and_long_lines) {
    server_config config;
    config.max_command_line = 40;
    config.max_text_line = 30;
    config.max_message_size = 60;
    config.max_errors = 50;
    std::string input = "EHLO c\r\n" + std::string(60, 'x') + "\r\nNOOP " + std::string(33, 'y') + "\r\nNOOP " +
                        std::string(34, 'y') + "\r\n" + std::string("NO\0OP\r\n", 7) +
                        "MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n" + std::string(40, 'z') +
                        "\r\n.\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n" +
                        std::string(5, 'a') + "\r\n" + std::string(28, 'b') + "\r\n" + std::string(28, 'c') +
                        "\r\n.\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n" +
                        std::string("a\0b\r\n.\r\n", 8) + "QUIT\r\n";
    expect_any_split(input, config);
}

// ---------------------------------------------------------------------------
// DATA: dot-stuffing, line ends, bad bytes

std::string deliver_one(std::string_view content, server_config* config = nullptr, std::string* replies = nullptr) {
    harness h;
    if (config) h.config = *config;
    h.connect();
    h.feed(envelope_cmds);
    h.feed("DATA\r\n");
    auto out = h.feed(content);
    if (replies) *replies = out;
    if (h.delivered.size() != 1) return "<not delivered>";
    return h.delivered[0].data;
}

TEST(server_session, dot_unstuffing) {
    // RFC 5321 4.5.2: one leading dot goes.
    EXPECT_EQ(deliver_one("..leading dot\r\n...two\r\n. space\r\n..\r\n.\r\n"),
              ".leading dot\r\n..two\r\n space\r\n.\r\n");
    EXPECT_EQ(deliver_one(".\r\n"), "");  // an empty message
    EXPECT_EQ(deliver_one("\r\n.\r\n"), "\r\n");
}

TEST(server_session, bare_lf_lines_are_stored_with_crlf) {
    EXPECT_EQ(deliver_one("a\nb\r\nc\n\n\r\n.\r\n"), "a\r\nb\r\nc\r\n\r\n\r\n");
}

TEST(server_session, lone_dot_that_does_not_end_the_message_stays_a_dot) {
    auto data = deliver_one("a\n.\nb\r\n.\r\n");
    EXPECT_EQ(data, "a\r\n.\r\nb\r\n");
    EXPECT_TRUE(ends_only_at_the_end(data));
    EXPECT_EQ(relayed(data), "a\r\n..\r\nb\r\n.\r\n");
    // A dot line ending in CRLF after a bare-LF line is content too.
    EXPECT_EQ(deliver_one("a\n.\r\nb\r\n.\r\n"), "a\r\n.\r\nb\r\n");
    // Only "." ends it, not ". " or ".x".
    EXPECT_EQ(deliver_one(". \r\n.x\r\n.\r\n"), " \r\nx\r\n");
}

TEST(server_session, bare_cr_or_nul_rejects_the_whole_message) {
    std::string const bad[] = {
        "a\rb\r\n.\r\n",            // CR inside a line
        "\rstart\r\n.\r\n",         // at the start
        "end\r\r\n.\r\n",           // CR CR LF
        "lone\r\n\r\r\n.\r\n",
        std::string("n\0ul\r\n.\r\n", 9),
        std::string("\0\r\n.\r\n", 6),
    };
    for (auto const& content : bad) {
        std::string replies;
        EXPECT_EQ(deliver_one(content, nullptr, &replies), "<not delivered>") << escape(content);
        EXPECT_EQ(replies, "554 5.6.0 Error: message content rejected (bare CR or NUL)\n") << escape(content);
    }
}

TEST(server_session, bare_cr_split_across_reads) {
    harness h;
    h.connect();
    h.feed(std::string(envelope_cmds) + "DATA\r\n");
    EXPECT_EQ(h.feed("abc\r"), "");
    EXPECT_EQ(h.feed("def\r\n"), "");  // the CR of the last read was bare after all
    EXPECT_EQ(h.feed(".\r\n"), "554 5.6.0 Error: message content rejected (bare CR or NUL)\n");
    EXPECT_EQ(h.count(kind::deliver), 0);
    // The session goes on.
    EXPECT_EQ(h.feed("MAIL FROM:<a@b.example>\r\n"), "250 2.1.0 Ok\n");
}

// ---------------------------------------------------------------------------
// The smuggling endings (SPEC 5): none ends a message.

struct smuggle_case {
    std::string name, ending;
    bool accepted;  // no bare CR or NUL: the first message is delivered whole
};

void PrintTo(const smuggle_case& c, std::ostream* os) { *os << c.name << " \"" << escape(c.ending) << "\""; }

class smuggling : public testing::TestWithParam<smuggle_case> {};

TEST_P(smuggling, no_ending_but_crlf_dot_crlf) {
    auto const& c = GetParam();
    harness h;
    h.connect();
    std::string const smuggled = "MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\n"
                                 "Subject: smuggled\r\n\r\nsmuggled body\r\n";
    std::string input = std::string(envelope_cmds) + "DATA\r\nSubject: first\r\n\r\nfirst body" + c.ending +
                        smuggled + "\r\n.\r\n" +
                        "MAIL FROM:<carol@corp.example>\r\nRCPT TO:<dave@example.net>\r\nDATA\r\nsecond\r\n.\r\n"
                        "QUIT\r\n";
    auto out = h.feed(input);

    std::string const first_reply = c.accepted ? "250 2.0.0 Ok: queued as Q1\n"
                                               : "554 5.6.0 Error: message content rejected (bare CR or NUL)\n";
    std::string const second_id = c.accepted ? "Q2" : "Q1";
    // Exactly these replies: the smuggled MAIL, RCPT and DATA are never taken as commands.
    std::string replies;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);)
        if (!line.starts_with("=> ")) replies += line + "\n";
    EXPECT_EQ(replies, std::string(ehlo_reply) + std::string(envelope_replies) +
                           "354 End data with <CR><LF>.<CR><LF>\n" + first_reply +
                           "250 2.1.0 Ok\n250 2.1.5 Ok\n354 End data with <CR><LF>.<CR><LF>\n"
                           "250 2.0.0 Ok: queued as " + second_id + "\n221 2.0.0 Bye\n");

    ASSERT_EQ(h.delivered.size(), c.accepted ? 2u : 1u);
    for (auto const& d : h.delivered) EXPECT_TRUE(ends_only_at_the_end(d.data)) << escape(d.data);
    if (c.accepted) {
        auto const& first = h.delivered[0];
        EXPECT_EQ(first.env.mail_from, "alice@corp.example");
        // Not cut at the smuggled ending: the would-be second message is content.
        EXPECT_NE(first.data.find("first body\r\n"), std::string::npos) << escape(first.data);
        EXPECT_NE(first.data.find("\r\nMAIL FROM:<evil@attacker.example>\r\n"), std::string::npos);
        EXPECT_TRUE(first.data.ends_with("smuggled body\r\n\r\n")) << escape(first.data);
    }
    auto const& last = h.delivered.back();
    EXPECT_EQ(last.env.mail_from, "carol@corp.example");
    EXPECT_EQ(last.env.rcpt_to, (std::vector<std::string>{"dave@example.net"}));
    EXPECT_EQ(last.data, "second\r\n");
    for (auto const& d : h.delivered) EXPECT_NE(d.env.mail_from, "evil@attacker.example");
}

INSTANTIATE_TEST_SUITE_P(all, smuggling,
                         testing::Values(smuggle_case{"lf_dot_lf", "\n.\n", true},
                                         smuggle_case{"cr_dot_cr", "\r.\r", false},
                                         smuggle_case{"cr_dot_lf", "\r.\n", false},
                                         smuggle_case{"lf_dot_cr", "\n.\r", false},
                                         smuggle_case{"lf_dot_crlf", "\n.\r\n", true},
                                         smuggle_case{"crlf_dot_lf", "\r\n.\n", true},
                                         smuggle_case{"cr_dot_crlf", "\r.\r\n", false},
                                         smuggle_case{"crlf_dot_cr", "\r\n.\r", false},
                                         smuggle_case{"crlf_nul_dot_crlf", std::string("\r\n\0.\r\n", 6), false},
                                         smuggle_case{"crlf_dot_nul_crlf", std::string("\r\n.\0\r\n", 6), false}),
                         [](const testing::TestParamInfo<smuggle_case>& i) { return i.param.name; });

TEST(server_session, relay_helper_catches_a_smuggled_ending) {
    // The helper itself: stored data with a dot line is fine once stuffed...
    EXPECT_TRUE(ends_only_at_the_end("a\r\n.\r\nb\r\n"));
    EXPECT_TRUE(ends_only_at_the_end(".\r\n"));
    EXPECT_TRUE(ends_only_at_the_end(""));
    // ...and an unstuffed stream is what it would catch.
    EXPECT_FALSE(ends_only_at_the_end("a\r\nb"));
}

// ---------------------------------------------------------------------------
// Limits

std::string command_of_length(std::size_t total, std::string_view eol = "\r\n") {
    // "NOOP " and filler up to `total` bytes including the line end.
    return "NOOP " + std::string(total - 5 - eol.size(), 'x') + std::string(eol);
}

TEST(server_session, command_line_limit_is_512_with_crlf) {
    // RFC 5321 4.5.3.1.4.
    for (auto [total, ok] : {std::pair{511u, true}, {512u, true}, {513u, false}, {2000u, false}}) {
        harness h;
        h.connect();
        EXPECT_EQ(h.feed(command_of_length(total)), ok ? "250 2.0.0 Ok\n" : "500 5.5.6 Error: line too long\n")
            << total;
    }
    // A bare LF counts as if it were CRLF.
    for (auto [total, ok] : {std::pair{511u, true}, {512u, false}}) {
        harness h;
        h.connect();
        EXPECT_EQ(h.feed(command_of_length(total, "\n")), ok ? "250 2.0.0 Ok\n" : "500 5.5.6 Error: line too long\n")
            << total;
    }
}

TEST(server_session, rest_of_a_long_command_line_is_never_a_command) {
    harness h;
    h.connect();
    // "QUIT" past the limit in the same line is dropped with it, read after read.
    EXPECT_EQ(h.feed(std::string(600, 'x')), "");
    EXPECT_EQ(h.feed(" QUIT"), "");
    EXPECT_EQ(h.feed("\r\nNOOP\r\n"), "500 5.5.6 Error: line too long\n250 2.0.0 Ok\n");
    EXPECT_FALSE(h.s().closed());
}

std::string text_line_of_length(std::size_t total) { return std::string(total - 2, 't') + "\r\n"; }

TEST(server_session, text_line_limit_is_1000_with_crlf) {
    // RFC 5321 4.5.3.1.6.
    for (auto [total, ok] : {std::pair{999u, true}, {1000u, true}, {1001u, false}, {100000u, false}}) {
        std::string replies;
        auto data = deliver_one("short\r\n" + text_line_of_length(total) + "after\r\n.\r\n", nullptr, &replies);
        if (ok) {
            EXPECT_EQ(data, "short\r\n" + text_line_of_length(total) + "after\r\n") << total;
        } else {
            EXPECT_EQ(data, "<not delivered>") << total;
            EXPECT_EQ(replies, "500 5.5.6 Error: message line too long\n") << total;
        }
    }
    // The limit is on the line as sent: a stuffed dot counts.
    EXPECT_EQ(deliver_one("." + text_line_of_length(1000) + ".\r\n"), "<not delivered>");
    EXPECT_EQ(deliver_one("." + text_line_of_length(999) + ".\r\n"), text_line_of_length(999));
}

TEST(server_session, message_size_limit_counts_the_stored_data) {
    server_config config;
    config.hostname = "mx.example";
    config.max_message_size = 20;
    // "0123456789abcdef" + CRLF = 18 bytes; with "..x" unstuffed to ".x" + CRLF = 22 > 20.
    EXPECT_EQ(deliver_one("0123456789abcdef\r\n.\r\n", &config), "0123456789abcdef\r\n");
    EXPECT_EQ(deliver_one("0123456789abcdefgh\r\n.\r\n", &config), "0123456789abcdefgh\r\n");  // exactly 20
    std::string replies;
    EXPECT_EQ(deliver_one("0123456789abcdefghi\r\n.\r\n", &config, &replies), "<not delivered>");
    EXPECT_EQ(replies, "552 5.3.4 Error: message file too big\n");
    // Stuffing does not count: the stored data is 20 bytes.
    EXPECT_EQ(deliver_one("..123456789abcdefgh\r\n.\r\n", &config), ".123456789abcdefgh\r\n");
}

TEST(server_session, the_worst_content_problem_is_reported) {
    server_config config;
    config.hostname = "mx.example";
    config.max_message_size = 20;
    config.max_text_line = 10;
    std::string replies;
    deliver_one(std::string(30, 'x') + "\r\na\rb\r\n.\r\n", &config, &replies);
    EXPECT_EQ(replies, "554 5.6.0 Error: message content rejected (bare CR or NUL)\n");
    deliver_one("12345678\r\n12345678\r\n12345678\r\n" + std::string(30, 'x') + "\r\n.\r\n", &config, &replies);
    EXPECT_EQ(replies, "552 5.3.4 Error: message file too big\n");
}

TEST(server_session, recipient_limit) {
    harness h;
    h.config.max_recipients = 2;
    h.config.max_errors = 2;  // 452 is not counted as an error
    h.connect();
    EXPECT_EQ(h.feed(in_mail + "RCPT TO:<a@example.net>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\n"
                               "RCPT TO:<d@example.net>\r\nRCPT TO:<e@example.net>\r\nDATA\r\nx\r\n.\r\n"),
              std::string(ehlo_reply) +
                  "250 2.1.0 Ok\n250 2.1.5 Ok\n250 2.1.5 Ok\n452 4.5.3 Error: too many recipients\n"
                  "452 4.5.3 Error: too many recipients\n452 4.5.3 Error: too many recipients\n"
                  "354 End data with <CR><LF>.<CR><LF>\n=> deliver from=<alice@corp.example> "
                  "to=<a@example.net>,<b@example.net> helo=client.example client=127.25.200.25 esmtp=1 8bit=0 "
                  "size=0\n=> data \"x\\r\\n\"\n250 2.0.0 Ok: queued as Q1\n");
    EXPECT_FALSE(h.s().closed());
}

TEST(server_session, no_recipient_limit_when_zero) {
    harness h;
    h.config.max_recipients = 0;
    h.connect();
    std::string cmds = in_mail;
    for (int i = 0; i < 300; ++i) cmds += "RCPT TO:<u" + std::to_string(i) + "@example.net>\r\n";
    h.feed(cmds + "DATA\r\nx\r\n.\r\n");
    ASSERT_EQ(h.delivered.size(), 1u);
    EXPECT_EQ(h.delivered[0].env.rcpt_to.size(), 300u);
}

TEST(server_session, error_limit_closes_with_421) {
    harness h;
    h.config.max_errors = 3;
    h.connect();
    EXPECT_EQ(h.feed("FOO\r\nBAR\r\n"),
              "502 5.5.2 Error: command not recognized\n502 5.5.2 Error: command not recognized\n");
    EXPECT_EQ(h.feed("MAIL FROM:<a@b.example>\r\nNOOP\r\n"),
              "503 5.5.1 Error: send HELO/EHLO first\n421 4.7.0 mx.example Error: too many errors\n=> close\n");
    EXPECT_TRUE(h.s().closed());
    EXPECT_TRUE(h.s().feed("NOOP\r\n").empty());
}

TEST(server_session, every_kind_of_error_counts) {
    harness h;
    h.config.max_errors = 4;
    h.connect();
    h.feed("EHLO x\r\n" + std::string(600, 'x') + "\r\n");  // too long
    h.feed(std::string("N\0\r\n", 4));                     // bad syntax
    h.feed("RCPT TO:<a@b.example>\r\n");                    // sequence
    EXPECT_FALSE(h.s().closed());
    EXPECT_EQ(h.feed("MAIL FROM:<spammer@bad.example>\r\n"),
              "550 5.7.1 <spammer@bad.example>: Sender address rejected: Access denied\n"
              "421 4.7.0 mx.example Error: too many errors\n=> close\n");
}

TEST(server_session, delivered_message_forgives_earlier_errors) {
    harness h;
    h.config.max_errors = 3;
    h.connect();
    h.feed("FOO\r\nFOO\r\n" + std::string(envelope_cmds) + "DATA\r\nx\r\n.\r\nFOO\r\nFOO\r\n");
    EXPECT_FALSE(h.s().closed());
    EXPECT_EQ(h.feed("FOO\r\n"),
              "502 5.5.2 Error: command not recognized\n421 4.7.0 mx.example Error: too many errors\n=> close\n");
}

TEST(server_session, idle_timeout) {
    harness h;
    h.connect();
    h.feed("EHLO x\r\n");
    EXPECT_EQ(h.timeout(), "421 4.4.2 mx.example Error: timeout exceeded\n=> close\n");
    EXPECT_TRUE(h.s().closed());
    EXPECT_TRUE(h.s().on_idle_timeout().empty());
    EXPECT_TRUE(h.s().feed("QUIT\r\n").empty());
}

TEST(server_session, idle_timeout_inside_data) {
    harness h;
    h.connect();
    h.feed(std::string(envelope_cmds) + "DATA\r\npartial");
    EXPECT_EQ(h.timeout(), "421 4.4.2 mx.example Error: timeout exceeded\n=> close\n");
    EXPECT_EQ(h.count(kind::deliver), 0);
}

TEST(server_session, nothing_after_quit) {
    harness h;
    h.connect();
    EXPECT_EQ(h.feed("QUIT\r\nNOOP\r\n"), "221 2.0.0 Bye\n=> close\n");
    EXPECT_TRUE(h.s().feed("NOOP\r\n").empty());
    EXPECT_TRUE(h.s().on_delivered("x").empty());
    EXPECT_TRUE(h.s().on_idle_timeout().empty());
}

TEST(server_session, copies_are_independent) {
    harness h;
    h.connect();
    h.feed("EHLO x\r\nMAIL FROM:<a@b.example>\r\n");
    server_session copy = h.s();
    auto a = render(copy.feed("RCPT TO:<bob@example.net>\r\n"));
    auto b = render(h.s().feed("RCPT TO:<bob@example.net>\r\n"));
    EXPECT_EQ(a, b);
    EXPECT_EQ(a, "250 2.1.5 Ok\n");
}

TEST(server_session, large_message_in_many_reads) {
    harness h;
    h.connect();
    h.feed(std::string(envelope_cmds) + "DATA\r\n");
    std::string line = std::string(70, 'm') + "\r\n";
    for (int i = 0; i < 20000; ++i) ASSERT_EQ(h.feed(line), "");
    h.feed(".\r\n");
    ASSERT_EQ(h.delivered.size(), 1u);
    EXPECT_EQ(h.delivered[0].data.size(), 20000u * line.size());
}

// ---------------------------------------------------------------------------
// Policy rules at every phase (SPEC 4: smtp.reject, smtp.tempfail,
// smtp.disconnect, smtp.stall)

std::vector<std::string> const steps = {"EHLO client.example\r\n",      "MAIL FROM:<alice@corp.example>\r\n",
                                        "RCPT TO:<bob@example.net>\r\n", "DATA\r\n",
                                        "hello\r\n.\r\n",                 "QUIT\r\n"};
std::vector<std::string> const normal = {
    std::string(banner),
    std::string(ehlo_reply),
    "250 2.1.0 Ok\n",
    "250 2.1.5 Ok\n",
    "354 End data with <CR><LF>.<CR><LF>\n",
    "=> deliver from=<alice@corp.example> to=<bob@example.net> helo=client.example client=127.25.200.25 esmtp=1 "
    "8bit=0 size=0\n=> data \"hello\\r\\n\"\n250 2.0.0 Ok: queued as Q1\n",
    "221 2.0.0 Bye\n=> close\n"};
phase const phases[] = {phase::banner, phase::ehlo, phase::mail, phase::rcpt, phase::data, phase::dot};

// Runs the steps one read at a time under `rule` at `p`; then the client waits
// for the idle time-out.
std::string run_steps(phase p, phase_rule rule, harness& h) {
    h.policy.rules[p] = rule;
    auto out = h.connect();
    for (auto const& step : steps) {
        if (h.s().closed() || h.s().stalled()) break;
        out += h.feed(step);
    }
    if (h.s().stalled()) {
        EXPECT_EQ(h.s().current_phase(), p);
        EXPECT_TRUE(h.s().feed("QUIT\r\n").empty());  // a stalled server reads nothing
        EXPECT_TRUE(h.s().on_delivered("x").empty());
    }
    out += h.timeout();
    return out;
}

std::string normal_until(std::size_t k) {
    std::string out;
    for (std::size_t i = 0; i < k; ++i) out += normal[i];
    return out;
}

TEST(server_session_rules, normal_flow_asks_every_phase) {
    harness h;
    EXPECT_EQ(run_steps(phase::banner, {act::reject, 0, ""}, h).substr(0, 3), "554");
    harness plain;
    std::string out = plain.connect();
    for (auto const& step : steps) out += plain.feed(step);
    EXPECT_EQ(out, normal_until(7));
    EXPECT_EQ(plain.policy.asked, (std::vector<phase>{phase::banner, phase::ehlo, phase::mail, phase::rcpt,
                                                      phase::data, phase::dot}));
}

TEST(server_session_rules, disconnect_closes_without_a_word) {
    for (std::size_t k = 0; k < 6; ++k) {
        harness h;
        EXPECT_EQ(run_steps(phases[k], {act::disconnect, 0, ""}, h), normal_until(k) + "=> close\n") << k;
        EXPECT_EQ(h.count(kind::deliver), 0);
    }
}

TEST(server_session_rules, stall_says_nothing_until_the_timeout_closes_quietly) {
    for (std::size_t k = 0; k < 6; ++k) {
        harness h;
        EXPECT_EQ(run_steps(phases[k], {act::stall, 0, ""}, h), normal_until(k) + "=> close\n") << k;
        EXPECT_EQ(h.count(kind::deliver), 0);
        EXPECT_TRUE(h.s().closed());
    }
}

TEST(server_session_rules, reject_at_each_phase) {
    std::string const after_ehlo_refused =
        "503 5.5.1 Error: send HELO/EHLO first\n503 5.5.1 Error: need MAIL command\n"
        "503 5.5.1 Error: need RCPT command\n502 5.5.2 Error: command not recognized\n"
        "502 5.5.2 Error: command not recognized\n" + normal[6];
    std::string const not_recognized_twice =
        "502 5.5.2 Error: command not recognized\n502 5.5.2 Error: command not recognized\n";
    std::string const expected[] = {
        "",  // the banner: below
        normal_until(1) + "554 5.7.1 <client.example>: Helo command rejected: Access denied\n" + after_ehlo_refused,
        normal_until(2) + "554 5.7.1 <alice@corp.example>: Sender address rejected: Access denied\n"
                          "503 5.5.1 Error: need MAIL command\n503 5.5.1 Error: need RCPT command\n" +
            not_recognized_twice + normal[6],
        normal_until(3) + "554 5.7.1 <bob@example.net>: Recipient address rejected: Access denied\n"
                          "554 5.5.1 Error: no valid recipients\n" +
            not_recognized_twice + normal[6],
        normal_until(4) + "554 5.7.1 <DATA>: Data command rejected: Access denied\n" + not_recognized_twice +
            normal[6],
        normal_until(5) + "554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: Access denied\n" + normal[6],
    };
    for (std::size_t k = 0; k < 6; ++k) {
        harness h;
        auto out = run_steps(phases[k], {act::reject, 0, ""}, h);
        if (k == 0) {
            // RFC 5321 3.1: after a 554 greeting only QUIT is served.
            std::string want = "554 mx.example ESMTP not accepting connections\n";
            for (int i = 0; i < 6; ++i) want += "503 5.5.1 Error: bad sequence of commands\n";
            want += "221 2.0.0 Bye\n=> close\n";
            EXPECT_EQ(out, want);
        } else {
            EXPECT_EQ(out, expected[k]) << k;
        }
        EXPECT_EQ(h.count(kind::deliver), 0) << k;
    }
}

TEST(server_session_rules, tempfail_at_each_phase) {
    for (std::size_t k = 0; k < 6; ++k) {
        harness h;
        auto out = run_steps(phases[k], {act::tempfail, 0, ""}, h);
        if (k == 0) {
            // A 4xx greeting closes the channel (RFC 5321 3.1, 3.8).
            EXPECT_EQ(out, "421 mx.example Service unavailable - try again later\n=> close\n");
        } else {
            std::string const subjects[] = {"", "<client.example>: Helo command rejected",
                                            "<alice@corp.example>: Sender address rejected",
                                            "<bob@example.net>: Recipient address rejected",
                                            "<DATA>: Data command rejected", "<END-OF-MESSAGE>: End-of-data rejected"};
            EXPECT_EQ(out.substr(0, normal_until(k).size()), normal_until(k)) << k;
            auto const rest = out.substr(normal_until(k).size());
            EXPECT_EQ(rest.substr(0, rest.find('\n') + 1), "451 4.7.1 " + subjects[k] + ": Try again later\n") << k;
            EXPECT_TRUE(out.ends_with(normal[6])) << k;
        }
        EXPECT_EQ(h.count(kind::deliver), 0) << k;
    }
}

TEST(server_session_rules, code_and_text_from_the_rule) {
    struct row {
        phase p;
        phase_rule rule;
        std::string expect;
    };
    row const rows[] = {
        {phase::rcpt, {act::reject, 550, "5.1.1 <bob@example.net>: no such user here"},
         "550 5.1.1 <bob@example.net>: no such user here\n"},
        {phase::rcpt, {act::reject, 553, "relaying denied"}, "553 5.7.1 relaying denied\n"},
        {phase::rcpt, {act::reject, 450, ""},
         "450 4.7.1 <bob@example.net>: Recipient address rejected: Try again later\n"},
        {phase::rcpt, {act::tempfail, 452, "4.2.2 mailbox full"}, "452 4.2.2 mailbox full\n"},
        {phase::rcpt, {act::reject, 250, "bogus code"}, "554 5.7.1 bogus code\n"},
        {phase::rcpt, {act::tempfail, 0, "later"}, "451 4.7.1 later\n"},
        {phase::rcpt, {act::reject, 550, "4.1.1 wrong class"}, "550 5.7.1 4.1.1 wrong class\n"},
        // RFC 5321 3.8: 421 names the host and closes the channel.
        {phase::mail, {act::tempfail, 421, "4.7.0 Error: too many connections"},
         "421 4.7.0 mx.example Error: too many connections\n=> close\n"},
        {phase::mail, {act::tempfail, 421, ""},
         "421 4.7.1 mx.example <alice@corp.example>: Sender address rejected: Try again later\n=> close\n"},
    };
    for (auto const& r : rows) {
        harness h;
        h.policy.rules[r.p] = r.rule;
        h.connect();
        h.feed("EHLO client.example\r\n");
        std::string out = h.feed("MAIL FROM:<alice@corp.example>\r\n");
        if (r.p == phase::rcpt) out = h.feed("RCPT TO:<bob@example.net>\r\n");
        EXPECT_EQ(out, r.expect) << r.rule.text;
    }
}

TEST(server_session_rules, banner_rule_text) {
    harness h;
    h.policy.rules[phase::banner] = {act::reject, 554, "No SMTP service here"};
    EXPECT_EQ(h.connect(), "554 mx.example No SMTP service here\n");
    harness t;
    t.policy.rules[phase::banner] = {act::tempfail, 0, ""};
    EXPECT_EQ(t.connect(), "421 mx.example Service unavailable - try again later\n=> close\n");
    harness c;
    c.policy.rules[phase::banner] = {act::reject, 450, "busy"};
    EXPECT_EQ(c.connect(), "450 mx.example busy\n=> close\n");
}

TEST(server_session_rules, banner_reject_counts_errors) {
    harness h;
    h.config.max_errors = 3;
    h.policy.rules[phase::banner] = {act::reject, 0, ""};
    EXPECT_EQ(h.connect(), "554 mx.example ESMTP not accepting connections\n");
    EXPECT_EQ(h.feed("EHLO x\r\nMAIL FROM:<a@b.example>\r\nQUIT\r\n"),
              "503 5.5.1 Error: bad sequence of commands\n503 5.5.1 Error: bad sequence of commands\n"
              "421 4.7.0 mx.example Error: too many errors\n=> close\n");
}

TEST(server_session_rules, rejected_recipient_is_not_accepted_but_others_are) {
    harness h;
    h.policy.rules[phase::rcpt] = {act::reject, 550, "5.1.1 no"};
    h.connect();
    h.feed(in_mail + "RCPT TO:<a@example.net>\r\n");
    h.policy.rules.clear();
    h.feed("RCPT TO:<b@example.net>\r\nDATA\r\nx\r\n.\r\n");
    ASSERT_EQ(h.delivered.size(), 1u);
    EXPECT_EQ(h.delivered[0].env.rcpt_to, (std::vector<std::string>{"b@example.net"}));
}

TEST(server_session_rules, data_reject_keeps_the_transaction) {
    harness h;
    h.policy.rules[phase::data] = {act::tempfail, 451, ""};
    h.connect();
    h.feed(in_rcpt + "DATA\r\n");
    h.policy.rules.clear();
    EXPECT_EQ(h.feed("DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\n");
}

TEST(server_session_rules, dot_rule_comes_after_the_content_checks) {
    harness h;
    h.policy.rules[phase::dot] = {act::stall, 0, ""};
    h.connect();
    EXPECT_TRUE(h.feed(in_rcpt + "DATA\r\nbad\rcr\r\n.\r\n")
                    .ends_with("354 End data with <CR><LF>.<CR><LF>\n"
                               "554 5.6.0 Error: message content rejected (bare CR or NUL)\n"));
    EXPECT_FALSE(h.s().stalled());
    h.feed("MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\nok\r\n.\r\n");
    EXPECT_TRUE(h.s().stalled());
    EXPECT_EQ(h.s().current_phase(), phase::dot);
    EXPECT_EQ(h.count(kind::deliver), 0);
}

// ---------------------------------------------------------------------------
// Golden transcripts: tests/data/smtp/NAME.in (client bytes, with directives)
// against NAME.ref (the rendered server actions). MAILSIM_UPDATE_GOLDEN=1
// rewrites the .ref files.

struct golden {
    server_config config;
    std::map<phase, phase_rule> rules;
    std::optional<reply> delivery_failure;
    bool timeout = false;
    std::string input;
};

// Escapes: \r \n \t \\ \xHH; the file's own line ends are not part of the input.
std::string unescape(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\' || i + 1 >= s.size()) {
            out += s[i];
            continue;
        }
        char const n = s[++i];
        if (n == 'r') out += '\r';
        else if (n == 'n') out += '\n';
        else if (n == 't') out += '\t';
        else if (n == 'x' && i + 2 < s.size()) {
            out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else out += n;
    }
    return out;
}

std::optional<phase> phase_named(const std::string& n) {
    std::map<std::string, phase> const m{{"banner", phase::banner}, {"ehlo", phase::ehlo}, {"mail", phase::mail},
                                         {"rcpt", phase::rcpt},     {"data", phase::data}, {"dot", phase::dot}};
    auto it = m.find(n);
    if (it == m.end()) return std::nullopt;
    return it->second;
}

golden read_golden(const std::filesystem::path& file) {
    golden g;
    g.config.hostname = "mx.example";
    g.config.max_message_size = 10485760;
    std::ifstream in(file, std::ios::binary);
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with("#")) continue;
        if (!line.starts_with("@")) {
            g.input += unescape(line);
            continue;
        }
        std::istringstream words(line.substr(1));
        std::string what;
        words >> what;
        if (what == "config") {
            for (std::string kv; words >> kv;) {
                auto eq = kv.find('=');
                auto key = kv.substr(0, eq);
                auto value = std::stoull(kv.substr(eq + 1));
                if (key == "max_message_size") g.config.max_message_size = value;
                else if (key == "max_recipients") g.config.max_recipients = static_cast<int>(value);
                else if (key == "max_errors") g.config.max_errors = static_cast<int>(value);
                else if (key == "max_command_line") g.config.max_command_line = value;
                else if (key == "max_text_line") g.config.max_text_line = value;
                else if (key == "pipelining") g.config.pipelining = value != 0;
                else ADD_FAILURE() << file << ": unknown config " << key;
            }
        } else if (what == "rule") {
            std::string p, a;
            int code = 0;
            words >> p >> a >> code;
            std::string text;
            std::getline(words >> std::ws, text);
            std::map<std::string, act> const actions{{"reject", act::reject}, {"tempfail", act::tempfail},
                                                     {"disconnect", act::disconnect}, {"stall", act::stall}};
            auto ph = phase_named(p);
            if (!ph || !actions.contains(a)) {
                ADD_FAILURE() << file << ": bad rule " << line;
                continue;
            }
            g.rules[*ph] = {actions.at(a), code, text};
        } else if (what == "delivery-failure") {
            reply r;
            words >> r.code >> r.enhanced;
            std::getline(words >> std::ws, r.text);
            g.delivery_failure = r;
        } else if (what == "timeout") {
            g.timeout = true;
        } else {
            ADD_FAILURE() << file << ": unknown directive " << line;
        }
    }
    return g;
}

std::vector<std::string> run_golden(const golden& g, const std::vector<std::string_view>& pieces) {
    harness h;
    h.config = g.config;
    h.policy.rules = g.rules;
    h.delivery_failure = g.delivery_failure;
    std::vector<std::string> out;
    out.push_back(h.connect());
    for (auto p : pieces) out.push_back(h.feed(p));
    if (g.timeout) out.push_back(h.timeout());
    return out;
}

std::string joined(const std::vector<std::string>& v) {
    std::string out;
    for (auto const& s : v) out += s;
    return out;
}

TEST(server_session_golden, transcripts) {
    std::filesystem::path const dir = std::filesystem::path(MAILSIM_SOURCE_DIR) / "tests/data/smtp";
    bool const update = std::getenv("MAILSIM_UPDATE_GOLDEN") != nullptr;
    int files = 0;
    for (auto const& e : std::filesystem::directory_iterator(dir)) {
        if (e.path().extension() != ".in") continue;
        ++files;
        SCOPED_TRACE(e.path().filename().string());
        auto const g = read_golden(e.path());
        auto const actual = joined(run_golden(g, {g.input}));
        auto ref_path = e.path();
        ref_path.replace_extension(".ref");
        if (update) {
            std::ofstream(ref_path, std::ios::binary) << actual;
        } else {
            std::ifstream ref(ref_path, std::ios::binary);
            ASSERT_TRUE(ref) << "missing " << ref_path;
            std::string expected{std::istreambuf_iterator<char>(ref), std::istreambuf_iterator<char>()};
            EXPECT_EQ(actual, expected);
        }
        // And any split of it gives the same.
        for (std::size_t i = 0; i <= g.input.size(); ++i) {
            std::string_view in(g.input);
            ASSERT_EQ(joined(run_golden(g, {in.substr(0, i), in.substr(i)})), actual) << "split at " << i;
        }
    }
    EXPECT_GE(files, 8);
}

}  // namespace
