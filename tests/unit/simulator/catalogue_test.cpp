#include "simulator/catalogue.hpp"

#include <gtest/gtest.h>

#include <set>

namespace {

// The kinds of SPEC section 4, in its order.
const std::vector<std::string> spec_kinds = {
    "imc.not_installed", "imc.stopped", "imc.start_fails", "imc.transfer_mode", "mailbox.missing_address",
    "net.wrong_address", "net.wrong_gateway", "net.ip_routing_disabled", "net.link_down", "net.wrong_dns_server",
    "dns.bad_a_record", "dns.missing_a_record", "dns.bad_mx", "dns.missing_mx", "dns.server_down", "dns.servfail",
    "dns.slow", "dns.truncated", "smtp.port_closed", "smtp.filtered", "smtp.stall", "smtp.size_limit",
    "smtp.recipient_limit", "smtp.relay_denied", "smtp.reject", "smtp.tempfail", "smtp.disconnect", "smtp.rate_limit",
    "imc.address_space", "imc.resolver_search_list", "imc.email_domain", "mta.stopped", "gwart.other_connector",
    "mail.routing_loop", "mail.ndr_loop"};

TEST(catalogue, holds_exactly_the_kinds_of_the_spec_in_order) {
    std::vector<std::string> got;
    for (auto& k : sim::catalogue()) got.emplace_back(k.kind);
    EXPECT_EQ(got, spec_kinds);
}

TEST(catalogue, every_kind_is_described) {
    for (auto& k : sim::catalogue()) {
        SCOPED_TRACE(std::string(k.kind));
        EXPECT_FALSE(k.params.empty());
        EXPECT_TRUE(k.params.front().required);  // the target
        EXPECT_FALSE(k.step.empty());
        EXPECT_FALSE(k.summary.empty());
        EXPECT_FALSE(k.symptom.empty());
        EXPECT_FALSE(k.cleared_by.empty());
        EXPECT_FALSE(k.tools.empty());
        for (int s : k.guide_steps) {
            EXPECT_GE(s, 1);
            EXPECT_LE(s, 6);
        }
        bool smtp_or_dns = k.kind.rfind("smtp.", 0) == 0 || k.kind.rfind("dns.", 0) == 0;
        EXPECT_EQ(k.gateable, smtp_or_dns);
        std::set<std::string_view> names;
        for (auto& p : k.params) EXPECT_TRUE(names.insert(p.name).second) << p.name;
    }
}

TEST(catalogue, lookups) {
    ASSERT_TRUE(sim::find_fault_kind("DNS.Bad_A_Record"));
    EXPECT_EQ(sim::find_fault_kind("dns.bad_a_record")->params[1].name, "address");
    EXPECT_FALSE(sim::find_fault_kind("dns.bad_a"));
    EXPECT_EQ(sim::fault_kind_names().size(), spec_kinds.size());
    for (auto id : {"1075", "7003", "2140", "4026", "4092", "drwatson"}) EXPECT_TRUE(sim::find_start_failure(id)) << id;
    EXPECT_FALSE(sim::find_start_failure("1234"));
    EXPECT_EQ(sim::find_start_failure("7003")->blocker, "tcpip");
}

}  // namespace
