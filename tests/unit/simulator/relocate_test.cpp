#include "simulator/relocate.hpp"

#include <gtest/gtest.h>

#include "simulator/scenario_loader.hpp"
#include "simulator/validate.hpp"

namespace {

using support::format_ipv4;

TEST(relocate, moves_every_address_consistently) {
    sim::diagnostics d;
    auto s = sim::load_scenario(std::string(MAILSIM_SOURCE_DIR) + "/scenarios/default.toml", d);
    ASSERT_TRUE(s);
    sim::fault_spec f;
    f.kind = "dns.bad_a_record";
    f.params["name"].choices = {std::string("exch1.corp.example")};
    f.params["address"].choices = {std::string("127.25.10.19"), std::string("127.25.11.190")};
    s->faults.push_back(f);
    s->answer.zones.push_back({"25.127.in-addr.arpa", "NS1", {}, {{"25.127.in-addr.arpa", 6, 60, fake_dns::soa_data{"ns1.corp.example", "hostmaster.corp.example", 1, 2, 3, 4, 5}},
                                                           {"190.10.25.127.in-addr.arpa", 12, 60, fake_dns::name_data{"exch1.corp.example"}}}, {}, {}});

    sim::relocate(*s, 77);
    EXPECT_EQ(s->lab.prefix, "127.77");
    EXPECT_EQ(s->answer.segments[0].cidr.to_string(), "127.77.8.0/21");
    EXPECT_EQ(format_ipv4(s->answer.routers[0].addresses[1]), "127.77.200.1");
    auto* exch = s->answer.find_host("EXCH1");
    EXPECT_EQ(format_ipv4(exch->address), "127.77.10.190");
    EXPECT_EQ(format_ipv4(*exch->gateway), "127.77.8.1");
    EXPECT_EQ(format_ipv4(exch->dns_servers[0]), "127.77.10.53");
    for (auto& z : s->answer.zones) {
        for (auto& r : z.records) {
            if (auto* a = std::get_if<fake_dns::a_data>(&r.data)) {
                EXPECT_EQ(a->address >> 16, (127u << 8) | 77u) << r.owner;
            }
        }
    }
    auto& rev = s->answer.zones.back();
    EXPECT_EQ(rev.origin, "77.127.in-addr.arpa");
    EXPECT_EQ(rev.records[1].owner, "190.10.77.127.in-addr.arpa");
    auto& choices = s->faults.back().params["address"].choices;
    EXPECT_EQ(std::get<std::string>(choices[0]), "127.77.10.19");
    EXPECT_EQ(std::get<std::string>(choices[1]), "127.77.11.190");
    EXPECT_EQ(std::get<std::string>(s->faults.back().params["name"].choices[0]), "exch1.corp.example");
    // A relocated scenario is still valid.
    sim::diagnostics again;
    sim::validate(*s, again);
    EXPECT_TRUE(again.empty()) << again.sorted().front().to_string();
}

}  // namespace
