#include "fake_smtp/reply.hpp"

#include <gtest/gtest.h>

namespace {

using fake_smtp::parse_reply;
using fake_smtp::reply;

struct wire_case {
    reply r;
    std::string wire;
};

void PrintTo(const wire_case& c, std::ostream* os) { *os << c.wire; }

class reply_wire : public testing::TestWithParam<wire_case> {};

TEST_P(reply_wire, formats_and_parses_back) {
    auto const& c = GetParam();
    EXPECT_EQ(c.r.wire(), c.wire);
    reply back;
    ASSERT_TRUE(parse_reply(c.wire, back)) << c.wire;
    EXPECT_EQ(back, c.r);
}

INSTANTIATE_TEST_SUITE_P(
    all, reply_wire,
    testing::Values(wire_case{{220, "", "mx.example ESMTP mailsim"}, "220 mx.example ESMTP mailsim\r\n"},
                    wire_case{{250, "2.1.0", "Ok"}, "250 2.1.0 Ok\r\n"},
                    wire_case{{354, "", "End data with <CR><LF>.<CR><LF>"}, "354 End data with <CR><LF>.<CR><LF>\r\n"},
                    // RFC 5321 4.2.1: "-" on every line but the last.
                    wire_case{{250, "", "mx.example\nSIZE 1024\nPIPELINING"},
                              "250-mx.example\r\n250-SIZE 1024\r\n250 PIPELINING\r\n"},
                    // RFC 2034: the enhanced code on every line.
                    wire_case{{214, "2.0.0", "a\nb"}, "214-2.0.0 a\r\n214 2.0.0 b\r\n"},
                    wire_case{{250, "2.0.0", ""}, "250 2.0.0\r\n"},
                    wire_case{{250, "", ""}, "250\r\n"},
                    wire_case{{421, "4.7.0", "mx.example Error: too many errors"},
                              "421 4.7.0 mx.example Error: too many errors\r\n"},
                    wire_case{{550, "5.1.1", "<x@y>: Recipient address rejected: User unknown"},
                              "550 5.1.1 <x@y>: Recipient address rejected: User unknown\r\n"}));

TEST(reply, wire_drops_carriage_returns_and_a_trailing_newline) {
    // A CR in the text would end the line early on the wire.
    EXPECT_EQ((reply{550, "5.7.1", "a\rb\n"}).wire(), "550 5.7.1 ab\r\n");
    EXPECT_EQ((reply{250, "", "a\n\nb"}).wire(), "250-a\r\n250-\r\n250 b\r\n");
}

TEST(reply, classes) {
    EXPECT_TRUE((reply{250, "", ""}).positive());
    EXPECT_TRUE((reply{354, "", ""}).positive());
    EXPECT_TRUE((reply{451, "", ""}).transient());
    EXPECT_TRUE((reply{554, "", ""}).permanent());
    EXPECT_FALSE((reply{554, "", ""}).transient());
}

TEST(reply, status_falls_back_to_the_class) {
    // A 554 greeting carries no enhanced code (RFC 2034) but is still permanent.
    EXPECT_EQ((reply{554, "", "mx.example ESMTP not accepting connections"}).status(), "5.0.0");
    EXPECT_EQ((reply{421, "", "mx.example Service unavailable"}).status(), "4.0.0");
    EXPECT_EQ((reply{550, "5.1.1", "no such user"}).status(), "5.1.1");
    // No reply at all (a time-out or a lost connection): the caller decides.
    EXPECT_EQ((reply{0, "", "timed out"}).status(), "");
    EXPECT_EQ((reply{0, "4.4.2", "connection closed"}).status(), "4.4.2");
}

TEST(parse_reply, accepts_bare_lf_and_missing_text) {
    reply r;
    ASSERT_TRUE(parse_reply("250-a\n250 b\n", r));
    EXPECT_EQ(r, (reply{250, "", "a\nb"}));
    ASSERT_TRUE(parse_reply("250\r\n", r));
    EXPECT_EQ(r, (reply{250, "", ""}));
    ASSERT_TRUE(parse_reply("250-\r\n250 x\r\n", r));
    EXPECT_EQ(r.text, "\nx");
}

TEST(parse_reply, enhanced_code_must_match_the_class) {
    reply r;
    ASSERT_TRUE(parse_reply("550 5.1.1 no such user\r\n", r));
    EXPECT_EQ(r.enhanced, "5.1.1");
    EXPECT_EQ(r.text, "no such user");
    ASSERT_TRUE(parse_reply("550 4.1.1 odd\r\n", r));
    EXPECT_EQ(r.enhanced, "");
    EXPECT_EQ(r.text, "4.1.1 odd");
    ASSERT_TRUE(parse_reply("250 2.0.0\r\n", r));
    EXPECT_EQ(r.enhanced, "2.0.0");
    ASSERT_TRUE(parse_reply("250 2.0.0x\r\n", r));
    EXPECT_EQ(r.enhanced, "");
    ASSERT_TRUE(parse_reply("250 2.1234.0 x\r\n", r));
    EXPECT_EQ(r.enhanced, "");
    ASSERT_TRUE(parse_reply("354 3.0.0 hmm\r\n", r));  // RFC 3463: no class 3
    EXPECT_EQ(r.enhanced, "");
    // Lines that do not repeat the code keep their text.
    ASSERT_TRUE(parse_reply("250-2.0.0 a\r\n250 b\r\n", r));
    EXPECT_EQ(r.enhanced, "2.0.0");
    EXPECT_EQ(r.text, "a\nb");
}

TEST(parse_reply, rejects_what_is_not_one_complete_reply) {
    std::string const bad[] = {
        "",
        "250 ok",                 // no line end
        "250-ok\r\n",             // continuation without a last line
        "25 ok\r\n",              // two digits
        "2x0 ok\r\n",
        "250xok\r\n",             // neither SP nor "-"
        "250-a\r\n251 b\r\n",     // codes differ
        "250 a\r\n250 b\r\n",     // two replies
        "250 a\r\nextra",
        "099 low\r\n",
    };
    for (auto const& w : bad) {
        reply r{1, "x", "y"};
        EXPECT_FALSE(parse_reply(w, r)) << w;
        EXPECT_EQ(r, (reply{1, "x", "y"})) << "untouched on failure: " << w;
    }
}

}  // namespace
