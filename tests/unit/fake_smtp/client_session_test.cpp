#include "fake_smtp/client_session.hpp"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

namespace {

using fake_smtp::client_action;
using fake_smtp::client_config;
using fake_smtp::client_session;
using fake_smtp::delivery_result;
using fake_smtp::outgoing_message;
using outcome = fake_smtp::recipient_result::outcome;

// Markers in a scripted server's output: instead of bytes, the shell reports a
// time-out or a closed connection.
const std::string timeout = "\x01" "timeout";
const std::string closed = "\x01" "closed";

const std::string ehlo_full =
    "250-mx.example.net Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n";
const std::string ehlo_plain = "250-mx.example.net Hello\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n";

/// A scripted server: answers each command line the client writes (and the
/// message after 354) with a default reply, or the one set for that step.
/// Steps: banner, ehlo, helo, mail, rcpt (or "rcpt <addr>"), data, dot, quit.
struct fake_server {
    std::map<std::string, std::string> replies = {
        {"banner", "220 mx.example.net ESMTP\r\n"},
        {"ehlo", ehlo_full},
        {"helo", "250 mx.example.net\r\n"},
        {"mail", "250 2.1.0 Ok\r\n"},
        {"rcpt", "250 2.1.5 Ok\r\n"},
        {"data", "354 End data with <CR><LF>.<CR><LF>\r\n"},
        {"dot", "250 2.0.0 Ok: queued as 4F2A1\r\n"},
        {"quit", "221 2.0.0 Bye\r\n"},
    };
    bool in_data = false;
    std::vector<std::string> commands;  ///< every line the client sent, and "(message)" for the data
    std::string message;                ///< the data as written, stuffed, with the final dot

    fake_server& set(const std::string& step, const std::string& reply) {
        replies[step] = reply;
        return *this;
    }
    std::string reply_for(const std::string& step, const std::string& argument = "") {
        if (auto it = replies.find(step + " " + argument); !argument.empty() && it != replies.end()) return it->second;
        return replies.at(step);
    }
    /// The replies to one write of the client.
    std::string answer(const std::string& bytes) {
        if (in_data) {
            in_data = false;
            message = bytes;
            commands.push_back("(message)");
            return reply_for("dot");
        }
        std::string out;
        std::size_t at = 0;
        while (at < bytes.size()) {
            auto end = bytes.find("\r\n", at);
            std::string line = bytes.substr(at, end - at);
            at = end == std::string::npos ? bytes.size() : end + 2;
            commands.push_back(line);
            std::string verb = line.substr(0, 4);
            std::string r;
            if (verb == "EHLO") r = reply_for("ehlo");
            else if (verb == "HELO") r = reply_for("helo");
            else if (verb == "MAIL") r = reply_for("mail");
            else if (verb == "RCPT") r = reply_for("rcpt", line.substr(9, line.size() - 10));
            else if (verb == "DATA") r = reply_for("data"), in_data = r[0] == '3';
            else if (verb == "QUIT") r = reply_for("quit");
            else if (line == ".") r = reply_for("dot");
            else r = "500 5.5.2 what?\r\n";
            out += r;
        }
        return out;
    }
};

/// Runs a whole session against `server`. With `bytewise`, every chunk of
/// the server's output is fed one byte at a time.
struct run_result {
    std::vector<client_action> actions;
    delivery_result result;
    bool done = false;
    std::string writes;  ///< every write, concatenated
};

void take(run_result& out, std::vector<client_action> v, std::string& pending, fake_server& server) {
    for (auto& a : v) {
        if (a.what == client_action::kind::write) {
            out.writes += a.bytes;
            pending += server.answer(a.bytes);
        }
        if (a.what == client_action::kind::done) {
            EXPECT_FALSE(out.done) << "two done actions";
            out.done = true;
            out.result = a.result;
        }
        out.actions.push_back(std::move(a));
    }
}

run_result run(fake_server& server, outgoing_message m, client_config c = {"client.example", true, 64 * 1024},
               bool bytewise = false) {
    run_result out;
    client_session s(c, std::move(m));
    std::string pending = server.reply_for("banner");
    take(out, s.on_connect(), pending, server);
    for (int guard = 0; !out.done && guard < 100; ++guard) {
        std::string chunk;
        chunk.swap(pending);
        if (chunk.empty()) chunk = timeout;  // a real server that says nothing
        // Bytes up to a marker, then the marker's event.
        auto mark = chunk.find('\x01');
        std::string bytes = chunk.substr(0, mark);
        if (bytewise) {
            for (char ch : bytes) take(out, s.feed(std::string_view(&ch, 1)), pending, server);
        } else if (!bytes.empty()) {
            take(out, s.feed(bytes), pending, server);
        }
        if (mark != std::string::npos && !out.done) {
            if (chunk.compare(mark, timeout.size(), timeout) == 0)
                take(out, s.on_timeout(), pending, server);
            else
                take(out, s.on_closed(), pending, server);
        }
    }
    EXPECT_TRUE(out.done);
    EXPECT_TRUE(s.finished());
    EXPECT_TRUE(s.feed("250 late\r\n").empty()) << "a finished session stays silent";
    EXPECT_TRUE(s.on_timeout().empty());
    EXPECT_TRUE(s.on_closed().empty());
    return out;
}

outgoing_message message(std::vector<std::string> rcpts = {"bob@example.net"},
                         std::string data = "From: alice@corp.example\r\nSubject: hi\r\n\r\nHello\r\n") {
    return {"alice@corp.example", std::move(rcpts), std::move(data), false};
}

std::string describe(const delivery_result& r) {
    std::ostringstream o;
    o << "stage=" << r.stage << " connected=" << r.connected << " error=" << r.transport_error;
    if (r.session_reply) o << " session=" << r.session_reply->code << "/" << r.session_reply->enhanced;
    for (auto const& x : r.recipients)
        o << " [" << x.address << " " << static_cast<int>(x.result) << " " << x.answer.code << " "
          << x.answer.enhanced << " " << x.answer.text << "]";
    o << "\n" << r.transcript;
    return o.str();
}

std::string describe(const std::vector<client_action>& actions) {
    std::string out;
    for (auto const& a : actions) {
        out += std::to_string(static_cast<int>(a.what)) + ":" + a.bytes + "|";
        if (a.what == client_action::kind::done) out += describe(a.result);
    }
    return out;
}

std::string last_command(const fake_server& srv) { return srv.commands.empty() ? "" : srv.commands.back(); }

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// ---------------------------------------------------------------------------

TEST(client_session, full_dialogue_without_pipelining) {
    fake_server srv;
    srv.set("ehlo", ehlo_plain);
    auto r = run(srv, message({"bob@example.net", "carol@example.net"}));
    auto const body = message().data;
    EXPECT_EQ(srv.commands, (std::vector<std::string>{
                                "EHLO client.example",
                                "MAIL FROM:<alice@corp.example> SIZE=" + std::to_string(body.size()),
                                "RCPT TO:<bob@example.net>", "RCPT TO:<carol@example.net>", "DATA", "(message)",
                                "QUIT"}));
    // One command per write: the server did not offer PIPELINING.
    int writes = 0;
    for (auto const& a : r.actions) writes += a.what == client_action::kind::write;
    EXPECT_EQ(writes, 7);
    EXPECT_EQ(srv.message, body + ".\r\n");
    EXPECT_EQ(r.result.stage, "done");
    EXPECT_EQ(r.result.transport_error, "");
    EXPECT_FALSE(r.result.session_reply);
    ASSERT_EQ(r.result.recipients.size(), 2u);
    for (auto const& x : r.result.recipients) {
        EXPECT_EQ(x.result, outcome::delivered);
        EXPECT_EQ(x.answer.code, 250);
        EXPECT_EQ(x.answer.enhanced, "2.0.0");
        EXPECT_TRUE(contains(x.answer.text, "queued as 4F2A1"));
    }
    EXPECT_EQ(r.result.recipients[1].address, "carol@example.net");
    // The shell closes, then takes the result.
    ASSERT_GE(r.actions.size(), 2u);
    EXPECT_EQ(r.actions[r.actions.size() - 2].what, client_action::kind::close);
    EXPECT_EQ(r.actions.back().what, client_action::kind::done);
}

TEST(client_session, full_dialogue_with_pipelining) {
    fake_server srv;
    auto r = run(srv, message({"bob@example.net", "carol@example.net"}));
    // RFC 2920 3.1: MAIL, the RCPTs and DATA in one write.
    ASSERT_GE(r.actions.size(), 2u);
    EXPECT_EQ(r.actions[0].bytes, "EHLO client.example\r\n");
    EXPECT_EQ(r.actions[1].bytes, "MAIL FROM:<alice@corp.example> SIZE=" + std::to_string(message().data.size()) +
                                      "\r\nRCPT TO:<bob@example.net>\r\nRCPT TO:<carol@example.net>\r\nDATA\r\n");
    EXPECT_EQ(r.actions[2].bytes, message().data + ".\r\n");
    EXPECT_EQ(r.actions[3].bytes, "QUIT\r\n");
    EXPECT_EQ(r.result.stage, "done");
    for (auto const& x : r.result.recipients) EXPECT_EQ(x.result, outcome::delivered);
}

TEST(client_session, pipelining_can_be_turned_off) {
    fake_server srv;
    auto r = run(srv, message(), {"client.example", false, 64 * 1024});
    EXPECT_EQ(r.actions[1].bytes, "MAIL FROM:<alice@corp.example> SIZE=" + std::to_string(message().data.size()) + "\r\n");
    EXPECT_EQ(r.actions[2].bytes, "RCPT TO:<bob@example.net>\r\n");
    EXPECT_EQ(r.result.recipients[0].result, outcome::delivered);
}

TEST(client_session, transcript_records_both_directions) {
    fake_server srv;
    srv.set("ehlo", "250-mx.example.net\r\n250 PIPELINING\r\n");
    auto r = run(srv, message());
    EXPECT_EQ(r.result.transcript,
              "<<< 220 mx.example.net ESMTP\n"
              ">>> EHLO client.example\n"
              "<<< 250-mx.example.net\n"
              "<<< 250 PIPELINING\n"
              ">>> MAIL FROM:<alice@corp.example>\n"
              ">>> RCPT TO:<bob@example.net>\n"
              ">>> DATA\n"
              "<<< 250 2.1.0 Ok\n"
              "<<< 250 2.1.5 Ok\n"
              "<<< 354 End data with <CR><LF>.<CR><LF>\n"
              ">>> (message, " + std::to_string(message().data.size()) + " bytes)\n"
              ">>> .\n"
              "<<< 250 2.0.0 Ok: queued as 4F2A1\n"
              ">>> QUIT\n"
              "<<< 221 2.0.0 Bye\n");
}

TEST(client_session, transcript_escapes_control_and_8bit_bytes) {
    fake_server srv;
    srv.set("banner", "220 mx \x1b[31m\xc3\xa9\r\n");
    auto r = run(srv, message());
    EXPECT_TRUE(contains(r.result.transcript, "<<< 220 mx \\x1B[31m\\xC3\\xA9\n")) << r.result.transcript;
}

TEST(client_session, helo_fallback_when_ehlo_is_refused) {
    for (std::string refusal : {"500 5.5.1 Command unrecognized\r\n", "502 5.5.2 Not implemented\r\n",
                                "451 4.3.0 try later\r\n", "554 5.7.1 go away\r\n"}) {
        fake_server srv;
        srv.set("ehlo", refusal);
        auto m = message();
        m.body_8bit = true;
        auto r = run(srv, m);
        ASSERT_GE(srv.commands.size(), 3u) << refusal;
        EXPECT_EQ(srv.commands[1], "HELO client.example");
        // No extensions after HELO: no SIZE, no BODY, no pipelining.
        EXPECT_EQ(srv.commands[2], "MAIL FROM:<alice@corp.example>");
        EXPECT_EQ(r.actions[2].bytes, "MAIL FROM:<alice@corp.example>\r\n");
        EXPECT_EQ(r.result.recipients[0].result, outcome::delivered) << refusal;
    }
}

TEST(client_session, helo_refused_too) {
    struct row {
        std::string helo;
        outcome expected;
        bool quit;
    };
    for (auto const& t : {row{"550 5.7.1 no\r\n", outcome::failed, true}, row{"450 4.7.1 later\r\n", outcome::deferred, true},
                          row{"421 4.3.2 shutting down\r\n", outcome::deferred, false}}) {
        fake_server srv;
        srv.set("ehlo", "502 5.5.2 no EHLO\r\n").set("helo", t.helo);
        auto r = run(srv, message());
        EXPECT_EQ(r.result.recipients[0].result, t.expected) << t.helo;
        EXPECT_EQ(r.result.stage, "ehlo");
        ASSERT_TRUE(r.result.session_reply);
        EXPECT_EQ(r.result.session_reply->code, std::stoi(t.helo));
        EXPECT_EQ(last_command(srv) == "QUIT", t.quit) << t.helo;
    }
}

TEST(client_session, size_offered_and_message_too_big) {
    fake_server srv;
    srv.set("ehlo", "250-mx.example.net\r\n250-PIPELINING\r\n250 SIZE 100\r\n");
    auto r = run(srv, message({"bob@example.net", "carol@example.net"}, std::string(200, 'x') + "\r\n"));
    // RFC 1870 6.1, as Postfix's client: no MAIL at all.
    EXPECT_EQ(srv.commands, (std::vector<std::string>{"EHLO client.example", "QUIT"}));
    EXPECT_EQ(r.result.stage, "mail");
    ASSERT_TRUE(r.result.session_reply);
    EXPECT_EQ(r.result.session_reply->code, 552);
    for (auto const& x : r.result.recipients) {
        EXPECT_EQ(x.result, outcome::failed);
        EXPECT_EQ(x.answer.code, 552);
        EXPECT_EQ(x.answer.enhanced, "5.3.4");
        EXPECT_EQ(x.answer.text, "Message size exceeds fixed maximum message size");
    }
}

TEST(client_session, size_without_a_limit_is_still_declared) {
    for (std::string size : {"SIZE", "SIZE 0"}) {
        fake_server srv;
        srv.set("ehlo", "250-mx.example.net\r\n250 " + size + "\r\n");
        auto r = run(srv, message({"bob@example.net"}, std::string(5000, 'x') + "\r\n"));
        EXPECT_EQ(srv.commands[1], "MAIL FROM:<alice@corp.example> SIZE=5002") << size;
        EXPECT_EQ(r.result.recipients[0].result, outcome::delivered);
    }
}

TEST(client_session, size_counts_the_message_with_crlf_line_ends) {
    fake_server srv;
    srv.set("ehlo", "250-mx\r\n250 SIZE 9\r\n");
    // "a\nb\n" goes out as "a\r\nb\r\n": 6 bytes, under the limit of 9.
    auto r = run(srv, message({"bob@example.net"}, "a\nb\n"));
    EXPECT_EQ(srv.commands[1], "MAIL FROM:<alice@corp.example> SIZE=6");
    EXPECT_EQ(r.result.recipients[0].result, outcome::delivered);
}

TEST(client_session, eight_bit_mime) {
    struct row {
        bool offered, body_8bit;
        std::string mail;
    };
    for (auto const& t : {row{true, true, "MAIL FROM:<alice@corp.example> BODY=8BITMIME"},
                          row{true, false, "MAIL FROM:<alice@corp.example>"},
                          row{false, true, "MAIL FROM:<alice@corp.example>"}}) {
        fake_server srv;
        srv.set("ehlo", t.offered ? "250-mx\r\n250 8BITMIME\r\n" : "250 mx\r\n");
        auto m = message();
        m.body_8bit = t.body_8bit;
        run(srv, m);
        EXPECT_EQ(srv.commands[1], t.mail);
    }
}

TEST(client_session, null_sender) {
    fake_server srv;
    auto m = message();
    m.mail_from = "";
    run(srv, m);
    EXPECT_EQ(srv.commands[1], "MAIL FROM:<> SIZE=" + std::to_string(m.data.size()));
}

TEST(client_session, line_ends_in_addresses_cannot_inject_commands) {
    fake_server srv;
    srv.set("ehlo", "250 mx\r\n");
    auto m = message({"bob@example.net>\r\nRCPT TO:<eve@evil.example"});
    m.mail_from = "alice@corp.example>\r\nRSET";
    run(srv, m);
    EXPECT_EQ(srv.commands[1], "MAIL FROM:<alice@corp.example>RSET>");
    EXPECT_EQ(srv.commands[2], "RCPT TO:<bob@example.net>RCPT TO:<eve@evil.example>");
}

// Every reply class at every stage, with and without pipelining.
struct stage_case {
    std::string step;       // the step whose reply is replaced
    std::string reply;
    std::string stage;      // result.stage
    outcome expected;
    bool quit;              // the client says QUIT
    bool session_reply;
};

class reply_at_stage : public ::testing::TestWithParam<std::tuple<stage_case, bool>> {};

TEST_P(reply_at_stage, decides_every_recipient) {
    auto const& [t, pipelining] = GetParam();
    fake_server srv;
    if (!pipelining) srv.set("ehlo", ehlo_plain);
    srv.set(t.step, t.reply);
    auto r = run(srv, message({"bob@example.net", "carol@example.net"}));
    SCOPED_TRACE(describe(r.result));
    EXPECT_EQ(r.result.stage, t.stage);
    EXPECT_EQ(r.result.transport_error, "");
    EXPECT_EQ(bool(r.result.session_reply), t.session_reply);
    if (t.session_reply) {
        EXPECT_EQ(r.result.session_reply->code, std::stoi(t.reply));
    }
    for (auto const& x : r.result.recipients) {
        EXPECT_EQ(x.result, t.expected);
        EXPECT_EQ(x.answer.code, std::stoi(t.reply));
    }
    EXPECT_EQ(last_command(srv) == "QUIT", t.quit);
    if (t.step == "data" || t.step == "mail" || t.step == "rcpt") {
        // Nothing of the message went out (at most the empty message after a pipelined 354).
        EXPECT_TRUE(srv.message == "" || srv.message == ".\r\n") << srv.message;
    }
}

INSTANTIATE_TEST_SUITE_P(
    client_session, reply_at_stage,
    ::testing::Combine(
        ::testing::Values(
            stage_case{"banner", "554 5.3.2 No SMTP service here\r\n", "banner", outcome::failed, true, true},
            stage_case{"banner", "450 4.3.2 busy\r\n", "banner", outcome::deferred, true, true},
            stage_case{"banner", "421 4.3.2 Service not available\r\n", "banner", outcome::deferred, false, true},
            stage_case{"ehlo", "421 4.7.0 too many connections\r\n", "ehlo", outcome::deferred, false, true},
            stage_case{"mail", "550 5.1.8 Sender address rejected\r\n", "mail", outcome::failed, true, true},
            stage_case{"mail", "451 4.3.0 Temporary lookup failure\r\n", "mail", outcome::deferred, true, true},
            stage_case{"mail", "421 4.4.2 Timeout\r\n", "mail", outcome::deferred, false, true},
            stage_case{"rcpt", "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown\r\n", "rcpt",
                       outcome::failed, true, false},
            stage_case{"rcpt", "554 5.7.1 Relay access denied\r\n", "rcpt", outcome::failed, true, false},
            stage_case{"rcpt", "450 4.2.0 Mailbox busy\r\n", "rcpt", outcome::deferred, true, false},
            stage_case{"rcpt", "452 4.5.3 Too many recipients\r\n", "rcpt", outcome::deferred, true, false},
            stage_case{"rcpt", "421 4.3.2 closing\r\n", "rcpt", outcome::deferred, false, true},
            stage_case{"data", "554 5.5.1 No valid recipients\r\n", "data", outcome::failed, true, false},
            stage_case{"data", "451 4.3.0 try later\r\n", "data", outcome::deferred, true, false},
            stage_case{"data", "421 4.3.2 closing\r\n", "data", outcome::deferred, false, true},
            stage_case{"data", "250 2.0.0 Ok\r\n", "data", outcome::deferred, true, false},
            stage_case{"dot", "552 5.3.4 Message size exceeds fixed limit\r\n", "dot", outcome::failed, true, false},
            stage_case{"dot", "554 5.6.0 bare CR\r\n", "dot", outcome::failed, true, false},
            stage_case{"dot", "451 4.3.0 Error: queue file write error\r\n", "dot", outcome::deferred, true, false},
            stage_case{"dot", "421 4.3.2 closing\r\n", "dot", outcome::deferred, false, true},
            stage_case{"dot", "354 again?\r\n", "dot", outcome::deferred, true, false},
            stage_case{"rcpt", "354 what?\r\n", "rcpt", outcome::deferred, true, false},
            stage_case{"mail", "354 what?\r\n", "mail", outcome::deferred, true, true},
            stage_case{"banner", "250 not a greeting\r\n", "banner", outcome::deferred, true, true},
            stage_case{"dot", "250 2.0.0 Ok\r\n", "done", outcome::delivered, true, false}),
        ::testing::Bool()));

TEST(client_session, a_reply_to_quit_of_any_kind_ends_the_session) {
    for (std::string q : std::vector<std::string>{"221 2.0.0 Bye\r\n", "500 what\r\n", "421 bye\r\n", "garbage\r\n", timeout, closed}) {
        fake_server srv;
        srv.set("quit", q);
        auto r = run(srv, message());
        EXPECT_EQ(r.result.stage, "done");
        EXPECT_EQ(r.result.transport_error, "");
        EXPECT_FALSE(r.result.session_reply);
        EXPECT_EQ(r.result.recipients[0].result, outcome::delivered);
    }
}

TEST(client_session, mixed_recipients) {
    for (bool pipelining : {true, false}) {
        fake_server srv;
        if (!pipelining) srv.set("ehlo", ehlo_plain);
        srv.set("rcpt nobody@example.net", "550 5.1.1 <nobody@example.net>: User unknown\r\n")
            .set("rcpt busy@example.net", "450 4.2.1 busy\r\n");
        auto r = run(srv, message({"nobody@example.net", "bob@example.net", "busy@example.net"}));
        ASSERT_EQ(r.result.recipients.size(), 3u);
        EXPECT_EQ(r.result.recipients[0].result, outcome::failed);
        EXPECT_EQ(r.result.recipients[0].answer.enhanced, "5.1.1");
        EXPECT_EQ(r.result.recipients[1].result, outcome::delivered);
        EXPECT_EQ(r.result.recipients[1].answer.code, 250);
        EXPECT_EQ(r.result.recipients[2].result, outcome::deferred);
        EXPECT_EQ(r.result.recipients[2].answer.code, 450);
        EXPECT_EQ(r.result.stage, "done");
    }
}

TEST(client_session, no_recipient_accepted_without_pipelining_skips_data) {
    fake_server srv;
    srv.set("ehlo", ehlo_plain).set("rcpt", "550 5.1.1 User unknown\r\n");
    auto r = run(srv, message({"a@example.net", "b@example.net"}));
    EXPECT_EQ(srv.commands, (std::vector<std::string>{"EHLO client.example", srv.commands[1], "RCPT TO:<a@example.net>",
                                                      "RCPT TO:<b@example.net>", "QUIT"}));
    EXPECT_EQ(r.result.stage, "rcpt");
}

TEST(client_session, pipelined_354_without_an_accepted_recipient_gets_an_empty_message) {
    // As Postfix's smtp client: "." alone, its reply ignored, then QUIT.
    fake_server srv;
    srv.set("rcpt", "550 5.1.1 User unknown\r\n").set("dot", "554 5.5.1 Error: no valid recipients\r\n");
    auto r = run(srv, message({"a@example.net", "b@example.net"}));
    EXPECT_EQ(srv.commands.back(), "QUIT");
    EXPECT_EQ(srv.message, ".\r\n");
    EXPECT_TRUE(contains(r.result.transcript, ">>> DATA\n<<< 250 2.1.0 Ok\n<<< 550 5.1.1 User unknown\n"
                                              "<<< 550 5.1.1 User unknown\n<<< 354 End data with <CR><LF>.<CR><LF>\n"
                                              ">>> .\n<<< 554 5.5.1 Error: no valid recipients\n>>> QUIT\n"))
        << r.result.transcript;
    EXPECT_EQ(r.result.stage, "rcpt");
    for (auto const& x : r.result.recipients) {
        EXPECT_EQ(x.result, outcome::failed);
        EXPECT_EQ(x.answer.code, 550);
    }
}

TEST(client_session, pipelined_mail_rejection_decides_for_all) {
    fake_server srv;
    srv.set("mail", "553 5.7.1 <alice@corp.example>: Sender address rejected\r\n")
        .set("rcpt", "503 5.5.1 Error: need MAIL command\r\n")
        .set("data", "503 5.5.1 Error: need RCPT command\r\n");
    auto r = run(srv, message({"a@example.net", "b@example.net"}));
    EXPECT_EQ(srv.commands.back(), "QUIT");
    EXPECT_EQ(r.result.stage, "mail");
    for (auto const& x : r.result.recipients) {
        EXPECT_EQ(x.result, outcome::failed);
        EXPECT_EQ(x.answer.code, 553);
    }
}

TEST(client_session, pipelined_421_stops_reading) {
    fake_server srv;
    srv.set("rcpt b@example.net", "421 4.7.0 mx.example.net closing\r\n")
        .set("rcpt a@example.net", "550 5.1.1 unknown\r\n");
    auto r = run(srv, message({"a@example.net", "b@example.net", "c@example.net"}));
    EXPECT_EQ(srv.commands.back(), "DATA");  // no QUIT into a closing connection
    EXPECT_EQ(r.result.recipients[0].result, outcome::failed);  // decided before the 421
    EXPECT_EQ(r.result.recipients[1].result, outcome::deferred);
    EXPECT_EQ(r.result.recipients[1].answer.code, 421);
    EXPECT_EQ(r.result.recipients[2].result, outcome::deferred);
    EXPECT_EQ(r.result.stage, "rcpt");
    ASSERT_TRUE(r.result.session_reply);
    EXPECT_EQ(r.result.session_reply->code, 421);
}

TEST(client_session, multi_line_replies) {
    fake_server srv;
    srv.set("banner", "220-mx.example.net ESMTP\r\n220-Unauthorized use prohibited\r\n220 Have a nice day\r\n")
        .set("rcpt", "550-5.1.1 The email account that you tried to reach does not exist.\r\n"
                     "550-5.1.1 Please try double-checking the recipient's email address\r\n"
                     "550 5.1.1 for typos or unnecessary spaces.\r\n");
    auto r = run(srv, message());
    auto const& a = r.result.recipients[0].answer;
    EXPECT_EQ(a.code, 550);
    EXPECT_EQ(a.enhanced, "5.1.1");
    EXPECT_TRUE(contains(a.text, "does not exist")) << a.text;
    EXPECT_TRUE(contains(a.text, "for typos")) << a.text;
    EXPECT_EQ(r.result.recipients[0].result, outcome::failed);
}

TEST(client_session, bare_lf_replies_are_tolerated) {
    fake_server srv;
    for (auto& [k, v] : srv.replies) {
        std::string lf;
        for (char c : v)
            if (c != '\r') lf += c;
        v = lf;
    }
    auto r = run(srv, message());
    EXPECT_EQ(r.result.recipients[0].result, outcome::delivered);
    EXPECT_TRUE(contains(r.result.transcript, "<<< 250 PIPELINING") || contains(r.result.transcript, "<<< 250-PIPELINING"));
}

TEST(client_session, reply_code_without_text) {
    fake_server srv;
    srv.set("banner", "220\r\n").set("ehlo", "250\r\n").set("dot", "250\r\n");
    auto r = run(srv, message());
    EXPECT_EQ(r.result.recipients[0].result, outcome::delivered);
}

TEST(client_session, garbage_replies_are_protocol_errors) {
    struct row {
        std::string step, reply;
    };
    for (auto const& t : {row{"banner", "hello there\r\n"}, row{"banner", "SSH-2.0-OpenSSH_9.2\r\n"},
                          row{"ehlo", "250-mx\r\n251 wrong continuation\r\n"}, row{"ehlo", "2x0 mx\r\n"},
                          row{"mail", "250Ok\r\n"}, row{"rcpt", "\r\n"}, row{"rcpt", "25\r\n"},
                          row{"data", "154 one-hundreds are not SMTP\r\n"}, row{"dot", "999 ok\r\n"},
                          row{"dot", "250-queued\r\n\r\n"}}) {
        fake_server srv;
        srv.set(t.step, t.reply);
        auto r = run(srv, message());
        SCOPED_TRACE(t.step + ": " + t.reply + describe(r.result));
        EXPECT_TRUE(contains(r.result.transport_error, "protocol error: malformed reply")) << r.result.transport_error;
        EXPECT_EQ(r.result.recipients[0].result, outcome::deferred);
        EXPECT_EQ(r.result.recipients[0].answer.enhanced, "4.5.0");
        EXPECT_NE(last_command(srv), "QUIT");  // out of step with the server: just close
        EXPECT_EQ(r.actions[r.actions.size() - 2].what, client_action::kind::close);
    }
}

TEST(client_session, garbage_after_a_good_reply_in_the_same_chunk) {
    fake_server srv;
    srv.set("rcpt", "250 2.1.5 Ok\r\nxyz\r\n");
    auto r = run(srv, message());
    EXPECT_TRUE(contains(r.result.transport_error, "malformed reply after DATA")) << r.result.transport_error;
    EXPECT_EQ(r.result.stage, "data");
}

TEST(client_session, replies_longer_than_the_limit) {
    client_config c{"client.example", true, 200};
    {  // one endless line
        fake_server srv;
        srv.set("banner", "220 " + std::string(1000, 'x'));
        auto r = run(srv, message(), c);
        EXPECT_EQ(r.result.transport_error, "protocol error: reply longer than 200 bytes after the banner");
        EXPECT_EQ(r.result.stage, "banner");
        EXPECT_EQ(r.result.recipients[0].result, outcome::deferred);
    }
    {  // many short lines
        fake_server srv;
        std::string ehlo;
        for (int i = 0; i < 50; ++i) ehlo += "250-X-EXTENSION-" + std::to_string(i) + "\r\n";
        srv.set("ehlo", ehlo + "250 PIPELINING\r\n");
        auto r = run(srv, message(), c);
        EXPECT_EQ(r.result.transport_error, "protocol error: reply longer than 200 bytes after EHLO");
    }
    {  // exactly at the limit is fine
        fake_server srv;
        std::string banner = "220 " + std::string(200 - 6, 'x') + "\r\n";
        ASSERT_EQ(banner.size(), 200u);
        srv.set("banner", banner);
        auto r = run(srv, message(), c);
        EXPECT_EQ(r.result.transport_error, "");
        EXPECT_EQ(r.result.recipients[0].result, outcome::delivered);
    }
}

TEST(client_session, a_long_reply_trickling_in_byte_by_byte) {
    client_session s({"client.example", true, 64 * 1024}, message());
    std::string banner = "220 " + std::string(60000, 'x') + "\r\n";
    std::vector<client_action> all;
    for (char c : banner) {
        auto v = s.feed(std::string_view(&c, 1));
        all.insert(all.end(), v.begin(), v.end());
    }
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].bytes, "EHLO client.example\r\n");
}

// Time-outs and closed connections while waiting at each step.
struct silence_case {
    std::string step;
    bool pipelining;
    std::string timeout_error, closed_error, stage;
};

TEST(client_session, timeouts_and_closes_at_every_stage) {
    for (auto const& t : {
             silence_case{"banner", true, "timed out waiting for the banner", "connection closed before the banner", "banner"},
             silence_case{"ehlo", true, "timed out after EHLO", "connection closed after EHLO", "ehlo"},
             silence_case{"mail", false, "timed out after MAIL", "connection closed after MAIL", "mail"},
             silence_case{"rcpt", false, "timed out after RCPT", "connection closed after RCPT", "rcpt"},
             silence_case{"data", false, "timed out after DATA", "connection closed after DATA", "data"},
             silence_case{"mail", true, "timed out after MAIL", "connection closed after MAIL", "mail"},
             silence_case{"dot", true, "timed out after end of data (the message may arrive twice)",
                          "connection closed after end of data (the message may arrive twice)", "dot"},
         }) {
        for (bool close : {false, true}) {
            fake_server srv;
            if (!t.pipelining) srv.set("ehlo", ehlo_plain);
            srv.set(t.step, close ? closed : timeout);
            // The second recipient is refused at RCPT (where RCPT is answered), and stays failed.
            if (t.step != "rcpt") srv.set("rcpt carol@example.net", "550 5.1.1 unknown\r\n");
            auto r = run(srv, message({"bob@example.net", "carol@example.net"}));
            SCOPED_TRACE(t.step + (close ? " closed " : " timeout ") + describe(r.result));
            EXPECT_EQ(r.result.transport_error, close ? t.closed_error : t.timeout_error);
            EXPECT_EQ(r.result.stage, t.stage);
            EXPECT_EQ(r.result.recipients[0].result, outcome::deferred);
            EXPECT_EQ(r.result.recipients[0].answer.code, 0);
            EXPECT_EQ(r.result.recipients[0].answer.enhanced, "4.4.2");
            bool const rcpt_answered = t.step == "data" || t.step == "dot";
            EXPECT_EQ(r.result.recipients[1].result, rcpt_answered ? outcome::failed : outcome::deferred);
            EXPECT_NE(last_command(srv), "QUIT");
        }
    }
}

TEST(client_session, timeout_before_connect_notice) {
    client_session s({"client.example", true, 1024}, message());
    auto v = s.on_timeout();
    ASSERT_EQ(v.size(), 2u);
    EXPECT_EQ(v[1].result.transport_error, "timed out waiting for the banner");
    EXPECT_TRUE(s.finished());
}

TEST(client_session, no_recipients_just_quits) {
    fake_server srv;
    auto r = run(srv, message({}));
    EXPECT_EQ(srv.commands, (std::vector<std::string>{"EHLO client.example", "QUIT"}));
    EXPECT_EQ(r.result.stage, "done");
    EXPECT_TRUE(r.result.recipients.empty());
}

TEST(client_session, empty_helo_name_is_replaced) {
    fake_server srv;
    run(srv, message(), {"", true, 1024});
    EXPECT_EQ(srv.commands[0], "EHLO localhost");
}

// RFC 5321 4.5.2 transparency, and CRLF everywhere.
TEST(client_session, dot_stuffing) {
    struct row {
        std::string data, wire;
    };
    for (auto const& t : {
             row{"Subject: x\r\n\r\n.\r\n", "Subject: x\r\n\r\n..\r\n.\r\n"},
             row{"Subject: x\r\n\r\n..\r\n", "Subject: x\r\n\r\n...\r\n.\r\n"},
             row{"Subject: x\r\n\r\n.x\r\nmid.dle\r\n", "Subject: x\r\n\r\n..x\r\nmid.dle\r\n.\r\n"},
             row{".first\r\n", "..first\r\n.\r\n"},
             row{"a\nb\n.\nc", "a\r\nb\r\n..\r\nc\r\n.\r\n"},      // bare LF, no final line end
             row{"no final line end", "no final line end\r\n.\r\n"},
             row{"ends in CR\r", "ends in CR\r\n.\r\n"},
             row{"bare\rCR stays\r\n", "bare\rCR stays\r\n.\r\n"},  // the server judges it (554 5.6.0)
             row{"", ".\r\n"},
             row{"\r\n.\r\n", "\r\n..\r\n.\r\n"},
         }) {
        fake_server srv;
        auto r = run(srv, message({"bob@example.net"}, t.data));
        EXPECT_EQ(srv.message, t.wire) << t.data;
        auto const stuffed = t.wire.size() - 3;
        EXPECT_TRUE(contains(r.result.transcript, ">>> (message, " + std::to_string(stuffed) + " bytes)\n>>> .\n"));
    }
}

// The any-split test: the server's output fed one byte at a time gives the
// same actions and the same result as fed whole.
TEST(client_session, any_split) {
    struct scenario {
        std::string name;
        std::map<std::string, std::string> replies;
        bool pipelining;
    };
    std::vector<scenario> scenarios = {
        {"pipelined", {}, true},
        {"plain", {{"ehlo", ehlo_plain}}, false},
        {"multi-line", {{"banner", "220-a\r\n220-b\r\n220 c\r\n"}, {"rcpt", "550-5.1.1 x\r\n550 5.1.1 y\r\n"}}, true},
        {"mixed", {{"rcpt carol@example.net", "450 4.2.1 busy\r\n"}}, true},
        {"helo", {{"ehlo", "502 5.5.2 no\r\n"}}, true},
        {"garbage", {{"data", "35x go ahead\r\n"}}, true},
        {"421", {{"mail", "421 4.7.0 bye\r\n"}}, true},
        {"lf", {{"banner", "220 mx\n"}, {"dot", "250 ok\n"}}, true},
    };
    for (auto const& sc : scenarios) {
        auto once = [&](bool bytewise) {
            fake_server srv;
            for (auto const& [k, v] : sc.replies) srv.set(k, v);
            return run(srv, message({"bob@example.net", "carol@example.net"}), {"client.example", sc.pipelining, 4096},
                       bytewise);
        };
        auto whole = once(false);
        auto split = once(true);
        EXPECT_EQ(describe(whole.actions), describe(split.actions)) << sc.name;
        EXPECT_EQ(describe(whole.result), describe(split.result)) << sc.name;
    }
}

// A whole pipelined reply group split in two at every position.
TEST(client_session, any_split_of_the_pipelined_replies) {
    std::string const group = "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550-5.1.1 no\r\n550 5.1.1 such user\r\n354 go\r\n";
    std::string reference;
    for (std::size_t cut = 0; cut <= group.size(); ++cut) {
        client_session s({"client.example", true, 4096}, message({"a@x", "b@x", "c@x"}));
        std::vector<client_action> all;
        auto add = [&all](std::vector<client_action> v) { all.insert(all.end(), v.begin(), v.end()); };
        add(s.on_connect());
        add(s.feed("220 mx\r\n"));
        add(s.feed("250-mx\r\n250 PIPELINING\r\n"));
        add(s.feed(group.substr(0, cut)));
        add(s.feed(group.substr(cut)));
        add(s.feed("250 ok\r\n221 bye\r\n"));
        auto d = describe(all);
        if (cut == 0)
            reference = d;
        else
            EXPECT_EQ(d, reference) << "cut at " << cut;
        EXPECT_TRUE(s.finished());
    }
}

}  // namespace
