#include "simulator/faults.hpp"

#include <gtest/gtest.h>

#include "simulator/catalogue.hpp"
#include "simulator/scenario_loader.hpp"
#include "simulator/validate.hpp"

namespace {

using sim::fault;
using sim::param_value;

sim::scenario guide() {
    sim::diagnostics d;
    auto s = sim::load_scenario(std::string(MAILSIM_SOURCE_DIR) + "/scenarios/default.toml", d);
    EXPECT_TRUE(s);
    return *s;
}

// Valid parameters of every kind against the guide network.
std::map<std::string, std::map<std::string, param_value>> samples() {
    using list = std::vector<std::string>;
    return {
        {"imc.not_installed", {{"host", "EXCH1"}}},
        {"imc.stopped", {{"host", "EXCH1"}}},
        {"imc.start_fails", {{"host", "EXCH1"}, {"event_id", std::int64_t{4026}}}},
        {"imc.transfer_mode", {{"host", "EXCH1"}, {"mode", "outbound"}}},
        {"mailbox.missing_address", {{"address", "alice@corp.example"}}},
        {"net.wrong_address", {{"host", "EXCH1"}, {"address", "127.25.10.191"}}},
        {"net.wrong_gateway", {{"host", "MAILHOST"}, {"gateway", "127.25.200.9"}}},
        {"net.ip_routing_disabled", {{"router", "RTR1"}}},
        {"net.link_down", {{"routers", list{"RTR1", "RTR2"}}}},
        {"net.wrong_dns_server", {{"host", "MAILHOST"}, {"address", "127.25.10.54"}}},
        {"dns.bad_a_record", {{"name", "exch1.corp.example"}, {"address", "127.25.10.19"}}},
        {"dns.missing_a_record", {{"name", "exch1.corp.example"}}},
        {"dns.bad_mx", {{"domain", "corp.example"}, {"exchange", "exch9.corp.example"}}},
        {"dns.missing_mx", {{"domain", "example.net"}}},
        {"dns.server_down", {{"server", "NS1"}}},
        {"dns.servfail", {{"server", "NS1"}, {"names", list{"corp.example"}}}},
        {"dns.slow", {{"server", "NS1"}, {"delay", "5s"}}},
        {"dns.truncated", {{"server", "NS1"}}},
        {"smtp.port_closed", {{"host", "MAILHOST"}}},
        {"smtp.filtered", {{"host", "MAILHOST"}}},
        {"smtp.stall", {{"host", "MAILHOST"}, {"phase", "rcpt"}}},
        {"smtp.size_limit", {{"host", "MAILHOST"}, {"size", "1KB"}}},
        {"smtp.recipient_limit", {{"host", "EXCH1"}, {"max", std::int64_t{2}}}},
        {"smtp.relay_denied", {{"host", "MAILHOST"}, {"domain", "corp.example"}}},
        {"smtp.reject", {{"host", "MAILHOST"}, {"phase", "mail"}, {"code", std::int64_t{550}}, {"text", "no"}}},
        {"smtp.tempfail", {{"host", "REMOTE"}, {"phase", "data"}, {"code", std::int64_t{451}}}},
        {"smtp.disconnect", {{"host", "REMOTE"}, {"phase", "ehlo"}}},
        {"smtp.rate_limit", {{"host", "MAILHOST"}, {"per_minute", std::int64_t{3}}}},
        {"imc.address_space", {{"host", "EXCH1"}, {"value", "X400:c=US"}}},
        {"imc.resolver_search_list", {{"host", "EXCH1"}, {"suffixes", list{"corp.example"}}}},
        {"imc.email_domain", {{"host", "EXCH1"}, {"domain", "example.net"}, {"target", "127.25.100.26"}}},
        {"mta.stopped", {{"host", "EXCH1"}}},
        {"gwart.other_connector", {{"host", "EXCH1"}, {"connector", "MSMAIL"}}},
        {"mail.routing_loop", {{"hosts", list{"MAILHOST", "REMOTE"}}, {"domain", "loop.example"}}},
        {"mail.ndr_loop", {{"hosts", list{"MAILHOST", "REMOTE"}}}},
    };
}

TEST(faults, every_catalogue_kind_has_a_sample) {
    auto s = samples();
    for (auto& k : sim::catalogue()) EXPECT_TRUE(s.count(std::string(k.kind))) << k.kind;
    EXPECT_EQ(s.size(), sim::catalogue().size());
}

// For every kind: the sample is valid; applying it changes its aspect; the
// aspect compares unequal to the answer until reverted; reverting restores
// the answer configuration exactly.
TEST(faults, apply_makes_a_difference_and_revert_restores_the_answer) {
    auto s = guide();
    for (auto& [kind, params] : samples()) {
        SCOPED_TRACE(kind);
        fault f{"t1", kind, params, {}};
        EXPECT_EQ(sim::check_fault(f, s.answer, 25), "");
        auto live = s.answer;
        EXPECT_TRUE(sim::fault_cleared(live, s.answer, f));
        sim::apply_fault(live, f);
        EXPECT_FALSE(sim::fault_cleared(live, s.answer, f));
        sim::revert_fault(live, s.answer, f);
        EXPECT_TRUE(sim::fault_cleared(live, s.answer, f));
        // Comparing whole configurations: the revert leaves nothing behind.
        bool same = live.hosts == s.answer.hosts && live.routers == s.answer.routers && live.links == s.answer.links &&
                    live.zones == s.answer.zones;
        EXPECT_TRUE(same);
    }
}

TEST(faults, a_fix_by_hand_clears_the_fault) {
    auto s = guide();
    fault gw{"t", "net.wrong_gateway", {{"host", "MAILHOST"}, {"gateway", "127.25.200.9"}}, {}};
    auto live = s.answer;
    sim::apply_fault(live, gw);
    live.find_host("mailhost")->gateway = support::parse_ipv4("127.25.200.1");
    EXPECT_TRUE(sim::fault_cleared(live, s.answer, gw));

    fault a{"t", "dns.bad_a_record", {{"name", "exch1.corp.example"}, {"address", "127.25.10.19"}}, {}};
    sim::apply_fault(live, a);
    EXPECT_FALSE(sim::fault_cleared(live, s.answer, a));
    // The trainee deletes the wrong record and adds the right one.
    auto* z = live.find_zone("corp.example");
    std::erase_if(z->records, [](auto& r) { return r.owner == "exch1.corp.example" && r.type == 1; });
    z->records.push_back({"exch1.corp.example", 1, 600, fake_dns::a_data{*support::parse_ipv4("127.25.10.190")}});
    EXPECT_TRUE(sim::fault_cleared(live, s.answer, a));  // TTL is not part of the fix

    fault mb{"t", "mailbox.missing_address", {{"address", "carol@corp.example"}}, {}};
    sim::apply_fault(live, mb);
    auto& boxes = live.find_host("EXCH1")->exchange->mailboxes;
    EXPECT_TRUE(boxes[1].smtp.empty());
    EXPECT_FALSE(sim::fault_cleared(live, s.answer, mb));
    boxes[1].smtp.push_back("Carol@corp.example");
    EXPECT_TRUE(sim::fault_cleared(live, s.answer, mb));
}

TEST(faults, record_faults_change_every_view_that_holds_the_record) {
    auto s = guide();
    fault f{"t", "dns.missing_mx", {{"domain", "example.net"}}, {}};
    auto live = s.answer;
    sim::apply_fault(live, f);
    for (auto& z : live.zones) {
        if (z.origin != "example.net") continue;
        for (auto& r : z.records) EXPECT_NE(r.type, 15) << z.server;
    }
}

TEST(faults, start_failures_block_the_service_by_cause) {
    auto s = guide();
    auto live = s.answer;
    fault tcpip{"t", "imc.start_fails", {{"host", "EXCH1"}, {"event_id", std::int64_t{1075}}}, {}};
    sim::apply_fault(live, tcpip);
    EXPECT_FALSE(live.find_host("EXCH1")->tcpip_installed);
    EXPECT_FALSE(live.find_host("EXCH1")->exchange->imc.running);
    fault mapi{"t", "imc.start_fails", {{"host", "EXCH1"}, {"event_id", "4026"}}, {}};
    auto other = s.answer;
    sim::apply_fault(other, mapi);
    EXPECT_EQ(other.find_host("EXCH1")->exchange->imc.start_blocker, "mapi");
    EXPECT_NE(sim::check_fault({"t", "imc.start_fails", {{"host", "EXCH1"}, {"event_id", std::int64_t{1234}}}, {}},
                               s.answer, 25),
              "");
}

TEST(faults, routing_loop_points_each_host_at_the_next) {
    auto s = guide();
    auto live = s.answer;
    fault f{"t", "mail.routing_loop", {{"hosts", std::vector<std::string>{"MAILHOST", "REMOTE"}}, {"domain", "loop.example"}}, {}};
    sim::apply_fault(live, f);
    auto route = [&](const char* host) {
        for (auto& r : live.find_host(host)->smtp->routes)
            if (r.domain == "loop.example") return r.next_hop;
        return std::string{};
    };
    EXPECT_EQ(route("MAILHOST"), "REMOTE");
    EXPECT_EQ(route("REMOTE"), "MAILHOST");
}

TEST(faults, diagnosis_matching) {
    auto s = guide();
    fault a{"t", "dns.bad_a_record", {{"name", "exch1.corp.example"}, {"address", "127.25.10.19"}}, {}};
    EXPECT_TRUE(sim::diagnosis_matches(a, s.answer, "dns.bad_a_record", "EXCH1.corp.example."));
    EXPECT_TRUE(sim::diagnosis_matches(a, s.answer, "DNS.BAD_A_RECORD", "exch1.corp.example"));
    EXPECT_FALSE(sim::diagnosis_matches(a, s.answer, "dns.missing_a_record", "exch1.corp.example"));
    EXPECT_FALSE(sim::diagnosis_matches(a, s.answer, "dns.bad_a_record", "ns1.corp.example"));
    fault g{"t", "net.wrong_gateway", {{"host", "MAILHOST"}, {"gateway", "127.25.200.9"}}, {}};
    EXPECT_TRUE(sim::diagnosis_matches(g, s.answer, "net.wrong_gateway", "mailhost"));
    EXPECT_TRUE(sim::diagnosis_matches(g, s.answer, "net.wrong_gateway", "mailhost.corp.example"));  // FQDN
    fault l{"t", "net.link_down", {{"routers", std::vector<std::string>{"RTR1", "RTR2"}}}, {}};
    EXPECT_TRUE(sim::diagnosis_matches(l, s.answer, "net.link_down", "rtr2"));  // any entry of a list target
    EXPECT_EQ(sim::fault_target(l), "RTR1,RTR2");
}

TEST(faults, checks_refuse_faults_that_change_nothing) {
    auto s = guide();
    EXPECT_NE(sim::check_fault({"t", "net.wrong_gateway", {{"host", "MAILHOST"}, {"gateway", "127.25.200.1"}}, {}},
                               s.answer, 25),
              "");
    EXPECT_NE(sim::check_fault({"t", "imc.transfer_mode", {{"host", "EXCH1"}, {"mode", "inbound_outbound"}}, {}},
                               s.answer, 25),
              "");
    EXPECT_NE(sim::check_fault({"t", "dns.bad_a_record", {{"name", "nothere.corp.example"}, {"address", "127.25.10.1"}}, {}},
                               s.answer, 25),
              "");
    EXPECT_NE(sim::check_fault({"t", "net.wrong_address", {{"host", "EXCH1"}, {"address", "127.25.10.53"}}, {}}, s.answer, 25),
              "");  // taken by NS1
    sim::fault gated{"t", "net.wrong_gateway", {{"host", "MAILHOST"}, {"gateway", "127.25.200.9"}}, {}};
    gated.timing.first = 2;
    EXPECT_NE(sim::check_fault(gated, s.answer, 25).find("first"), std::string::npos);
}

}  // namespace
