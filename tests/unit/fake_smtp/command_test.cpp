#include "fake_smtp/command.hpp"

#include <gtest/gtest.h>

namespace {

using fake_smtp::command;
using fake_smtp::parse_command;
using verb = command::verb;

TEST(parse_command, verbs_in_any_case) {
    struct row {
        std::string line;
        verb what;
        std::string word, argument;
    };
    row const rows[] = {
        {"HELO client.example", verb::helo, "HELO", "client.example"},
        {"ehlo client.example", verb::ehlo, "ehlo", "client.example"},
        {"EhLo   spaced.example  ", verb::ehlo, "EhLo", "spaced.example"},
        {"\tHELO x", verb::helo, "HELO", "x"},
        {"MAIL FROM:<a@b.example>", verb::mail, "MAIL", "FROM:<a@b.example>"},
        {"RCPT TO:<a@b.example>", verb::rcpt, "RCPT", "TO:<a@b.example>"},
        {"DATA", verb::data, "DATA", ""},
        {"RSET", verb::rset, "RSET", ""},
        {"NOOP hello there", verb::noop, "NOOP", "hello there"},
        {"QUIT", verb::quit, "QUIT", ""},
        {"VRFY bob", verb::vrfy, "VRFY", "bob"},
        {"EXPN list", verb::expn, "EXPN", "list"},
        {"HELP", verb::help, "HELP", ""},
        {"STARTTLS", verb::starttls, "STARTTLS", ""},
        {"AUTH PLAIN AGJvYgBzZWNyZXQ=", verb::auth, "AUTH", "PLAIN AGJvYgBzZWNyZXQ="},
        {"BDAT 100 LAST", verb::bdat, "BDAT", "100 LAST"},
        {"MAILFROM:<a@b>", verb::unknown, "MAILFROM:<a@b>", ""},
        {"GET / HTTP/1.0", verb::unknown, "GET", "/ HTTP/1.0"},
        {"", verb::unknown, "", ""},
        {"   ", verb::unknown, "", ""},
    };
    for (auto const& r : rows) {
        auto c = parse_command(r.line);
        EXPECT_EQ(c.what, r.what) << r.line;
        EXPECT_EQ(c.word, r.word) << r.line;
        EXPECT_EQ(c.argument, r.argument) << r.line;
    }
}

TEST(parse_command, mail_and_rcpt_paths) {
    struct row {
        std::string line;
        std::optional<std::string> path;
        std::string error;
    };
    row const rows[] = {
        {"MAIL FROM:<alice@corp.example>", "alice@corp.example", ""},
        {"mail from:<alice@corp.example>", "alice@corp.example", ""},
        {"MAIL FROM: <alice@corp.example>", "alice@corp.example", ""},  // common, Postfix accepts it
        {"MAIL FROM:alice@corp.example", "alice@corp.example", ""},     // no brackets, as Postfix accepts
        {"MAIL FROM:<>", "", ""},                                       // the null reverse-path
        {"MAIL FROM:<@relay.example,@b.example:alice@corp.example>", "alice@corp.example", ""},  // source route ignored
        {"MAIL FROM:<\"odd > name\"@corp.example>", "\"odd > name\"@corp.example", ""},
        {"MAIL FROM:<a@[127.25.10.190]>", "a@[127.25.10.190]", ""},
        {"MAIL", std::nullopt, "Syntax: MAIL FROM:<address>"},
        {"MAIL TO:<a@b.example>", std::nullopt, "Syntax: MAIL FROM:<address>"},
        {"MAIL FROM:", std::nullopt, "Syntax: MAIL FROM:<address>"},
        {"MAIL FROM:<a@b.example", std::nullopt, "Bad sender address syntax"},
        {"MAIL FROM:<a@b.example>x", std::nullopt, "Bad sender address syntax"},
        {"MAIL FROM:<a b@c.example>", std::nullopt, "Bad sender address syntax"},
        {"MAIL FROM:<nodomain>", std::nullopt, "Bad sender address syntax"},
        {"MAIL FROM:<@relay.example>", std::nullopt, "Bad sender address syntax"},
        {"RCPT TO:<bob@example.net>", "bob@example.net", ""},
        {"RCPT TO:<Postmaster>", "Postmaster", ""},  // RFC 5321 4.1.1.3
        {"RCPT TO:<postmaster>", "postmaster", ""},
        {"RCPT TO:<bob>", std::nullopt, "Bad recipient address syntax"},
        {"RCPT TO:<>", std::nullopt, "Bad recipient address syntax"},
        {"RCPT FROM:<bob@example.net>", std::nullopt, "Syntax: RCPT TO:<address>"},
        {"RCPT TO:", std::nullopt, "Syntax: RCPT TO:<address>"},
    };
    for (auto const& r : rows) {
        auto c = parse_command(r.line);
        EXPECT_EQ(c.path, r.path) << r.line;
        EXPECT_EQ(c.error, r.error) << r.line;
    }
}

TEST(parse_command, esmtp_parameters) {
    auto c = parse_command("MAIL FROM:<a@b.example> size=1024 BODY=8BITMIME  SMTPUTF8");
    ASSERT_TRUE(c.path);
    EXPECT_EQ(c.error, "");
    EXPECT_EQ(c.params, (std::map<std::string, std::string>{{"SIZE", "1024"}, {"BODY", "8BITMIME"}, {"SMTPUTF8", ""}}));

    // RFC 5321 4.1.2: esmtp-keyword and esmtp-value.
    for (std::string bad : {"=x", "SIZE=", "-X=1", "A=b=c"}) {
        auto p = parse_command("MAIL FROM:<a@b.example> " + bad);
        ASSERT_TRUE(p.path) << bad;
        EXPECT_EQ(p.error, "Unsupported option: " + bad);
    }
    auto r = parse_command("RCPT TO:<x@y.example> NOTIFY=NEVER");
    EXPECT_EQ(r.params.at("NOTIFY"), "NEVER");
}

TEST(valid_mailbox, rfc5321_mailbox) {
    std::string const good[] = {
        "a@b",
        "alice@corp.example",
        "first.last+tag@sub.corp.example",
        "!#$%&'*+-/=?^_`{|}~@x.example",
        "\"quoted local\"@x.example",
        "\"a\\\"b\"@x.example",
        "\"a@b\"@x.example",
        "u@[127.0.0.1]",
        "u@[IPv6:2001:db8::1]",
        "u@[IPv6:::1]",
        "u@[IPv6:1:2:3:4:5:6:7:8]",
        "u@[IPv6:::ffff:127.0.0.1]",
        "u@[tag:stuff]",
        "u@a-b.example",
        std::string(64, 'l') + "@x.example",
    };
    for (auto const& a : good) EXPECT_TRUE(fake_smtp::valid_mailbox(a)) << a;

    std::string const bad[] = {
        "",
        "nodomain",
        "@x.example",
        "u@",
        ".u@x.example",
        "u.@x.example",
        "u..v@x.example",
        "u v@x.example",
        "u@-x.example",
        "u@x-.example",
        "u@x..example",
        "u@x.example.",
        "u@x_y.example",
        "\"unterminated@x.example",
        "\"a\\\"@x.example",
        "u@[127.0.0.256]",
        "u@[127.0.0]",
        "u@[IPv6:1:2:3:4:5:6:7]",
        "u@[IPv6:1::2::3]",
        "u@[]",
        "u@[x]",
        "\xc3\xa9@x.example",
        std::string(65, 'l') + "@x.example",
        "u@" + std::string(64, 'd') + ".example",
    };
    for (auto const& a : bad) EXPECT_FALSE(fake_smtp::valid_mailbox(a)) << a;

    EXPECT_FALSE(fake_smtp::valid_mailbox(""));
    EXPECT_TRUE(fake_smtp::valid_mailbox("", true));
}

TEST(domain_of, lower_case_after_the_last_at) {
    EXPECT_EQ(fake_smtp::domain_of("Bob@Example.NET"), "example.net");
    EXPECT_EQ(fake_smtp::domain_of("\"a@b\"@C.example"), "c.example");
    EXPECT_EQ(fake_smtp::domain_of("postmaster"), "");
    EXPECT_EQ(fake_smtp::domain_of(""), "");
}

}  // namespace
