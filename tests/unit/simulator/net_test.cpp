#include "simulator/net.hpp"

#include <gtest/gtest.h>

#include "simulator/scenario_loader.hpp"

namespace {

using support::parse_ipv4;

sim::ipv4 ip(const char* s) { return *parse_ipv4(s); }

// Three segments: corp and dmz joined by R1; the internet behind R2 over a link.
sim::configuration guide() {
    sim::configuration c;
    c.segments = {{"corp", *support::parse_cidr("127.25.8.0/21"), {}},
                  {"dmz", *support::parse_cidr("127.25.200.0/24"), {}},
                  {"internet", *support::parse_cidr("127.25.100.0/24"), {}}};
    c.routers = {{"R1", {ip("127.25.8.1"), ip("127.25.200.1")}, true, {}}, {"R2", {ip("127.25.100.1")}, true, {}}};
    c.links = {{"R1", "R2", true, {}}};
    auto host = [](const char* name, const char* addr, const char* gw) {
        sim::host_config h;
        h.name = name;
        h.address = ip(addr);
        if (gw) h.gateway = ip(gw);
        return h;
    };
    c.hosts = {host("NS1", "127.25.10.53", "127.25.8.1"), host("EXCH1", "127.25.10.190", "127.25.8.1"),
               host("MAILHOST", "127.25.200.25", "127.25.200.1"), host("REMOTE", "127.25.100.25", "127.25.100.1"),
               host("NOGW", "127.25.10.99", nullptr), host("LOST", "127.25.50.5", "127.25.8.1")};
    return c;
}

TEST(network, same_segment_is_direct) {
    auto c = guide();
    sim::network n(c);
    auto r = n.route(ip("127.25.10.53"), ip("127.25.10.190"));
    EXPECT_TRUE(r.ok);
    EXPECT_TRUE(r.hops.empty());
    EXPECT_TRUE(n.reachable(ip("127.25.10.99"), ip("127.25.10.53")));  // no gateway needed on its own segment
}

TEST(network, across_routers_and_links_both_ways) {
    auto c = guide();
    sim::network n(c);
    auto r = n.route(ip("127.25.200.25"), ip("127.25.10.190"));
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.hops, std::vector<sim::ipv4>{ip("127.25.200.1")});
    auto far = n.route(ip("127.25.10.190"), ip("127.25.100.25"));
    EXPECT_TRUE(far.ok) << far.failure;
    EXPECT_EQ(far.hops, (std::vector<sim::ipv4>{ip("127.25.8.1"), ip("127.25.100.1")}));
    EXPECT_TRUE(n.reachable(ip("127.25.100.25"), ip("127.25.10.190")));
}

TEST(network, a_wrong_gateway_breaks_only_other_segments) {
    auto c = guide();
    c.find_host("MAILHOST")->gateway = ip("127.25.200.9");
    sim::network n(c);
    EXPECT_FALSE(n.reachable(ip("127.25.200.25"), ip("127.25.10.53")));
    EXPECT_FALSE(n.reachable(ip("127.25.10.53"), ip("127.25.200.25")));  // the reply has no way back
    EXPECT_NE(n.route(ip("127.25.200.25"), ip("127.25.10.53")).failure.find("gateway"), std::string::npos);
    EXPECT_TRUE(n.reachable(ip("127.25.10.190"), ip("127.25.10.53")));
}

TEST(network, a_host_without_gateway_stays_on_its_segment) {
    auto c = guide();
    sim::network n(c);
    EXPECT_FALSE(n.reachable(ip("127.25.10.99"), ip("127.25.200.25")));
}

TEST(network, routing_disabled_and_link_down) {
    auto c = guide();
    c.find_router("R1")->ip_routing = false;
    {
        sim::network n(c);
        EXPECT_FALSE(n.reachable(ip("127.25.200.25"), ip("127.25.10.190")));
        EXPECT_NE(n.route(ip("127.25.200.25"), ip("127.25.10.190")).failure.find("IP routing is disabled on R1"),
                  std::string::npos);
        EXPECT_TRUE(n.reachable(ip("127.25.10.53"), ip("127.25.10.190")));
    }
    c.find_router("R1")->ip_routing = true;
    c.find_link("R1", "R2")->up = false;
    {
        sim::network n(c);
        EXPECT_FALSE(n.reachable(ip("127.25.10.190"), ip("127.25.100.25")));
        EXPECT_TRUE(n.reachable(ip("127.25.10.190"), ip("127.25.200.25")));
    }
}

TEST(network, hosts_outside_segments_and_without_tcpip_reach_nothing) {
    auto c = guide();
    sim::network n(c);
    EXPECT_FALSE(n.reachable(ip("127.25.50.5"), ip("127.25.10.53")));
    c.find_host("EXCH1")->tcpip_installed = false;
    sim::network m(c);
    EXPECT_FALSE(m.reachable(ip("127.25.10.53"), ip("127.25.10.190")));
    EXPECT_TRUE(m.route(ip("127.25.10.190"), ip("127.25.10.190")).ok);  // itself
}

TEST(network, every_ordered_pair_of_the_guide_library_network) {
    sim::diagnostics d;
    auto s = sim::load_scenario(std::string(MAILSIM_SOURCE_DIR) + "/scenarios/default.toml", d);
    ASSERT_TRUE(s);
    sim::network n(s->answer);
    // In the healthy guide network everyone reaches everyone.
    for (auto& a : s->answer.hosts)
        for (auto& b : s->answer.hosts) EXPECT_TRUE(n.reachable(a.address, b.address)) << a.name << " -> " << b.name;
}

}  // namespace
