#include "fake_smtp/mail_policy.hpp"

#include <gtest/gtest.h>

namespace {

fake_smtp::mail_host_config relay() {
    fake_smtp::mail_host_config c;
    c.hostname = "mailhost.corp.example";
    c.local_domains = {"mailhost.corp.example"};
    c.mailboxes = {"postmaster@mailhost.corp.example"};
    c.relay_domains = {"corp.example", ".partner.example"};
    c.routes = {{"corp.example", "exch1.corp.example"}, {".partner.example", "127.25.200.30"}};
    return c;
}

TEST(mail_policy, local_relayed_and_refused_recipients) {
    auto c = relay();
    auto local = fake_smtp::classify_recipient(c, "Postmaster@MailHost.corp.example");
    EXPECT_FALSE(local.refusal);
    EXPECT_EQ(local.kind, fake_smtp::recipient_kind::local);
    EXPECT_EQ(local.mailbox, "postmaster@mailhost.corp.example");
    auto bare = fake_smtp::classify_recipient(c, "postmaster");  // RFC 5321 4.5.1
    EXPECT_FALSE(bare.refusal);
    EXPECT_EQ(bare.mailbox, "postmaster@mailhost.corp.example");
    auto unknown = fake_smtp::classify_recipient(c, "nobody@mailhost.corp.example");
    ASSERT_TRUE(unknown.refusal);
    EXPECT_EQ(unknown.refusal->code, 550);
    EXPECT_EQ(unknown.refusal->enhanced, "5.1.1");
    auto relayed = fake_smtp::classify_recipient(c, "alice@corp.example");
    EXPECT_FALSE(relayed.refusal);
    EXPECT_EQ(relayed.kind, fake_smtp::recipient_kind::relayed);
    EXPECT_FALSE(fake_smtp::classify_recipient(c, "x@eu.partner.example").refusal);
    auto sub = fake_smtp::classify_recipient(c, "x@sub.corp.example");  // exact entries do not cover subdomains
    ASSERT_TRUE(sub.refusal);
    auto open = fake_smtp::classify_recipient(c, "victim@elsewhere.example");
    ASSERT_TRUE(open.refusal);
    EXPECT_EQ(open.refusal->code, 554);
    EXPECT_EQ(open.refusal->enhanced, "5.7.1");
    EXPECT_NE(open.refusal->text.find("Relay access denied"), std::string::npos);
    c.relays = false;  // a mail store never relays
    EXPECT_TRUE(fake_smtp::classify_recipient(c, "alice@corp.example").refusal);
}

TEST(mail_policy, routes_smart_host_then_mx) {
    auto c = relay();
    auto r = fake_smtp::route_for(c, "corp.example");
    EXPECT_EQ(r.how, fake_smtp::next_hop::kind::route);
    EXPECT_EQ(r.target, "exch1.corp.example");
    EXPECT_EQ(fake_smtp::route_for(c, "eu.partner.example").target, "127.25.200.30");
    auto mx = fake_smtp::route_for(c, "Example.NET");
    EXPECT_EQ(mx.how, fake_smtp::next_hop::kind::mx);
    EXPECT_EQ(mx.target, "example.net");
    c.smart_host = "smart.corp.example";
    EXPECT_EQ(fake_smtp::route_for(c, "example.net").how, fake_smtp::next_hop::kind::smart_host);
    EXPECT_EQ(fake_smtp::route_for(c, "corp.example").how, fake_smtp::next_hop::kind::route);  // routes win
}

TEST(mail_policy, headers) {
    std::string msg =
        "Received: from a by b; x\r\nreceived: from c\r\n\tby d; y\r\nSubject: Hello\r\n  world\r\nFrom: "
        "<a@b.example>\r\n\r\nReceived: in the body does not count\r\n";
    EXPECT_EQ(fake_smtp::count_received(msg), 2);
    EXPECT_EQ(fake_smtp::header_value(msg, "subject"), "Hello world");
    EXPECT_EQ(fake_smtp::header_value(msg, "From"), "<a@b.example>");
    EXPECT_EQ(fake_smtp::header_value(msg, "To"), "");
    EXPECT_EQ(fake_smtp::header_block(msg).substr(fake_smtp::header_block(msg).size() - 4), "\r\n\r\n");
    auto h = fake_smtp::received_header("mailhost.corp.example", "mail.example.net", "127.25.100.25", "ABC123", true,
                                        "alice@corp.example", "Thu, 26 Nov 2026 10:00:00 +0000");
    EXPECT_EQ(h,
              "Received: from mail.example.net ([127.25.100.25])\r\n\tby mailhost.corp.example (mailsim) with ESMTP id "
              "ABC123\r\n\tfor <alice@corp.example>; Thu, 26 Nov 2026 10:00:00 +0000\r\n");
    EXPECT_EQ(fake_smtp::count_received(h + "\r\n"), 1);
    EXPECT_EQ(fake_smtp::rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
}

}  // namespace
