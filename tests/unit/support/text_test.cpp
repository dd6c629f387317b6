#include "support/text.hpp"

#include <gtest/gtest.h>

#include "support/random.hpp"

namespace {

using namespace std::chrono_literals;

TEST(text, sizes_are_binary) {
    EXPECT_EQ(support::parse_size("0"), 0u);
    EXPECT_EQ(support::parse_size("512KB"), 512u * 1024);
    EXPECT_EQ(support::parse_size("10MB"), 10u * 1024 * 1024);
    EXPECT_EQ(support::parse_size("1GB"), 1024ull * 1024 * 1024);
    EXPECT_EQ(support::parse_size("100"), 100u);
    EXPECT_EQ(support::parse_size("7b"), 7u);
    EXPECT_FALSE(support::parse_size("10XB"));
    EXPECT_FALSE(support::parse_size("MB"));
    EXPECT_FALSE(support::parse_size(""));
    EXPECT_FALSE(support::parse_size("99999999999999GB"));
    EXPECT_EQ(support::format_size(10 * 1024 * 1024), "10MB");
    EXPECT_EQ(support::format_size(1000), "1000B");
}

TEST(text, durations) {
    EXPECT_EQ(support::parse_duration("90s"), support::duration(90s));
    EXPECT_EQ(support::parse_duration("10m"), support::duration(10min));
    EXPECT_EQ(support::parse_duration("2h"), support::duration(2h));
    EXPECT_EQ(support::parse_duration("3d"), support::duration(72h));
    EXPECT_EQ(support::parse_duration("250ms"), support::duration(250ms));
    EXPECT_EQ(support::parse_duration("5"), support::duration(5s));
    EXPECT_FALSE(support::parse_duration("5 fortnights"));
    EXPECT_FALSE(support::parse_duration("-5s"));
    EXPECT_EQ(support::format_duration(support::duration(5400s)), "1h30m");
    EXPECT_EQ(support::format_duration(support::duration(250ms)), "250ms");
    EXPECT_EQ(support::format_duration(support::duration(0)), "0s");
}

TEST(text, did_you_mean_suggests_plausible_typos_only) {
    std::vector<std::string_view> keys = {"gateway", "address", "dns_servers", "roles"};
    EXPECT_EQ(support::did_you_mean("gatway", keys), "gateway");
    EXPECT_EQ(support::did_you_mean("adress", keys), "address");
    EXPECT_EQ(support::did_you_mean("Roles", keys), "roles");
    EXPECT_FALSE(support::did_you_mean("colour", keys));
    EXPECT_FALSE(support::did_you_mean("x", keys));
}

TEST(text, case_helpers) {
    EXPECT_TRUE(support::iequals("EXCH1", "exch1"));
    EXPECT_FALSE(support::iequals("exch1", "exch2"));
    EXPECT_EQ(support::to_lower("MailHost.Example.NET"), "mailhost.example.net");
    EXPECT_EQ(support::edit_distance("kitten", "sitting"), 3u);
}

TEST(random, same_seed_same_sequence) {
    support::rng a(7), b(7), c(8);
    for (int i = 0; i < 100; ++i) {
        auto x = a.next();
        EXPECT_EQ(x, b.next());
        EXPECT_NE(x, c.next());
    }
    support::rng d(1);
    for (int i = 0; i < 1000; ++i) {
        auto u = d.unit();
        EXPECT_GE(u, 0.0);
        EXPECT_LT(u, 1.0);
        EXPECT_LT(d.below(3), 3u);
    }
    static_assert(support::fnv1a("") == 0xcbf29ce484222325ull);
}

}  // namespace
