#include "fake_smtp/exchange/gwart.hpp"

#include <gtest/gtest.h>

namespace {

using fake_smtp::exchange::gateway;

TEST(gwart, patterns) {
    using fake_smtp::exchange::covers;
    EXPECT_TRUE(covers("*", "bob@example.net"));
    EXPECT_TRUE(covers("*.example.net", "bob@example.net"));
    EXPECT_TRUE(covers("*.example.net", "bob@eu.Example.NET"));
    EXPECT_FALSE(covers("*.example.net", "bob@badexample.net"));
    EXPECT_TRUE(covers("example.net", "bob@example.net"));
    EXPECT_FALSE(covers("example.net", "bob@eu.example.net"));
    EXPECT_TRUE(covers("bob@example.net", "Bob@Example.net"));
}

TEST(gwart, the_imc_routes_internet_mail) {
    auto g = fake_smtp::exchange::build_gwart({{"Internet Mail Connector (EXCH1)", {"SMTP:*"}, 1, true}});
    auto r = fake_smtp::exchange::route(g, "bob@example.net");
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->imc);
    EXPECT_EQ(r->type, "SMTP");
}

TEST(gwart, no_smtp_space_means_no_route) {
    auto g = fake_smtp::exchange::build_gwart({{"IMC", {"X400:c=US;a= ;p=Corp"}, 1, true}});
    EXPECT_FALSE(fake_smtp::exchange::route(g, "bob@example.net"));
}

TEST(gwart, a_competing_connector_wins_ties_and_cheaper_costs) {
    auto g = fake_smtp::exchange::build_gwart(
        {{"IMC", {"SMTP:*"}, 1, true}, {"MSMAIL", {"SMTP:*", "MS:CORP/PO"}, 1, false}});
    EXPECT_EQ(fake_smtp::exchange::route(g, "bob@example.net")->gateway, "MSMAIL");
    auto cheaper_imc = fake_smtp::exchange::build_gwart({{"IMC", {"SMTP:*"}, 1, true}, {"MSMAIL", {"SMTP:*"}, 5, false}});
    EXPECT_EQ(fake_smtp::exchange::route(cheaper_imc, "bob@example.net")->gateway, "IMC");
    // A more specific space wins whatever the cost.
    auto specific = fake_smtp::exchange::build_gwart(
        {{"IMC", {"SMTP:*"}, 1, true}, {"PARTNER", {"SMTP:*.partner.example"}, 50, false}});
    EXPECT_EQ(fake_smtp::exchange::route(specific, "x@eu.partner.example")->gateway, "PARTNER");
    EXPECT_EQ(fake_smtp::exchange::route(specific, "x@example.net")->gateway, "IMC");
    EXPECT_EQ(specific.size(), 2u);
}

}  // namespace
