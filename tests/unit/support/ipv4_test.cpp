#include "support/ipv4.hpp"

#include <gtest/gtest.h>

namespace {

TEST(ipv4, parses_dotted_quads_only) {
    EXPECT_EQ(support::parse_ipv4("127.25.10.190"), (127u << 24) | (25u << 16) | (10u << 8) | 190u);
    EXPECT_EQ(support::parse_ipv4("0.0.0.0"), 0u);
    for (auto bad : {"127.25.10", "127.25.10.256", "127.25.10.1.2", "127..10.1", "a.b.c.d", "127.25.10.1 ", "",
                     "1234.1.1.1", "127.25.10.-1"})
        EXPECT_FALSE(support::parse_ipv4(bad)) << bad;
    EXPECT_EQ(support::format_ipv4(*support::parse_ipv4("127.25.200.25")), "127.25.200.25");
}

TEST(ipv4, cidr) {
    auto c = support::parse_cidr("127.25.8.0/21");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->mask(), 0xfffff800u);
    EXPECT_TRUE(c->contains(*support::parse_ipv4("127.25.10.190")));
    EXPECT_TRUE(c->contains(*support::parse_ipv4("127.25.15.255")));
    EXPECT_FALSE(c->contains(*support::parse_ipv4("127.25.16.1")));
    EXPECT_EQ(c->to_string(), "127.25.8.0/21");
    EXPECT_FALSE(support::parse_cidr("127.25.8.1/21"));  // host bits set
    EXPECT_FALSE(support::parse_cidr("127.25.8.0/33"));
    EXPECT_FALSE(support::parse_cidr("127.25.8.0"));
    EXPECT_TRUE(support::parse_cidr("0.0.0.0/0")->contains(12345));
    EXPECT_TRUE(support::is_loopback(*support::parse_ipv4("127.1.2.3")));
    EXPECT_FALSE(support::is_loopback(*support::parse_ipv4("10.1.2.3")));
}

}  // namespace
