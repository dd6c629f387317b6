// A lab in this process, on real loopback sockets: the resolver that relays
// and the connector will use, and the lab clock driving its time-outs.
#include "simulator/lab.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "simulator/scenario_loader.hpp"

namespace {

using namespace std::chrono_literals;
using outcome = fake_dns::resolve_result::outcome;

// Prefixes 127.250-254 are kept for in-process tests (the Python tests use 127.60-249).
struct lab_fixture : ::testing::Test {
    boost::asio::io_context io;
    std::unique_ptr<sim::lab> lab;

    void start(int octet, double speed = 60) {
        sim::diagnostics d;
        auto s = sim::load_scenario(std::string(MAILSIM_SOURCE_DIR) + "/scenarios/default.toml", d);
        ASSERT_TRUE(s);
        sim::lab_options o;
        o.prefix = octet;
        o.ports = sim::port_mode::high;
        o.speed = speed;
        lab = std::make_unique<sim::lab>(io, std::move(*s), o);
        ASSERT_EQ(lab->start(), "");
    }

    void TearDown() override {
        if (lab) lab->stop();
        io.run_for(100ms);  // let closed sockets finish
    }

    // Runs the io_context until `done` is set; a hang fails instead of blocking.
    fake_dns::resolve_result resolve(const std::string& from, const std::string& name, std::uint16_t type = 1,
                                     std::function<void()> meanwhile = {}) {
        std::optional<fake_dns::resolve_result> result;
        lab->resolve(from, name, type, [&](const fake_dns::resolve_result& r) { result = r; });
        auto deadline = std::chrono::steady_clock::now() + 20s;
        while (!result && std::chrono::steady_clock::now() < deadline) {
            io.run_for(10ms);
            if (meanwhile && !result) meanwhile();
        }
        EXPECT_TRUE(result) << "the resolver never finished";
        return result.value_or(fake_dns::resolve_result{});
    }

    std::string fault(sim::fault f) {
        std::string error;
        auto id = lab->inject(std::move(f), error);
        EXPECT_EQ(error, "");
        return id;
    }
};

TEST_F(lab_fixture, resolves_from_the_hosts_own_address) {
    start(250);
    auto r = resolve("MAILHOST", "exch1.corp.example");
    ASSERT_EQ(r.what, outcome::answer) << r.describe();
    ASSERT_EQ(r.records.size(), 1u);
    EXPECT_EQ(std::get<fake_dns::a_data>(r.records[0].data).address, *support::parse_ipv4("127.250.10.190"));
    EXPECT_TRUE(r.authoritative);
    // A CNAME is followed.
    auto c = resolve("MAILHOST", "mail.corp.example");
    ASSERT_EQ(c.what, outcome::answer);
    EXPECT_EQ(c.records[0].owner, "mailhost.corp.example");
    // The query came from MAILHOST's address, as the log shows.
    bool seen = false;
    for (auto& e : lab->log().since(0))
        if (e.kind == "dns" && e.host == "NS1" && e.describe().rfind("127.250.200.25 asked exch1.corp.example A", 0) == 0)
            seen = true;
    EXPECT_TRUE(seen);
}

TEST_F(lab_fixture, negative_answers) {
    start(250);
    EXPECT_EQ(resolve("MAILHOST", "nothere.corp.example").what, outcome::nxdomain);
    EXPECT_EQ(resolve("MAILHOST", "exch1.corp.example", 15).what, outcome::nodata);
    EXPECT_EQ(resolve("MAILHOST", "www.elsewhere.example").what, outcome::refused);
    fault({"", "dns.servfail", {{"server", std::string("NS1")}, {"names", std::vector<std::string>{}}}, {}});
    EXPECT_EQ(resolve("MAILHOST", "exch1.corp.example").what, outcome::servfail);
}

TEST_F(lab_fixture, time_outs_run_on_the_lab_clock) {
    start(251, 1);  // one lab second per real second: 2 tries x 3 s would take 6 s unaided
    fault({"", "net.wrong_gateway", {{"host", std::string("MAILHOST")}, {"gateway", std::string("127.251.200.9")}}, {}});
    auto r = resolve("MAILHOST", "exch1.corp.example", 1, [&] { lab->advance(10s); });
    EXPECT_EQ(r.what, outcome::timeout) << r.describe();
    // Two tries of 3 s each went by in lab time, released by advancing the clock.
    EXPECT_GE(lab->now(), sim::duration(6s));
    // CLIENT1 shares NS1's segment and still resolves.
    EXPECT_EQ(resolve("CLIENT1", "exch1.corp.example").what, outcome::answer);
}

TEST_F(lab_fixture, a_wrong_dns_server_times_out) {
    start(252);
    fault({"", "net.wrong_dns_server", {{"host", std::string("MAILHOST")}, {"address", std::string("127.252.10.54")}}, {}});
    EXPECT_EQ(resolve("MAILHOST", "exch1.corp.example").what, outcome::timeout);
}

TEST_F(lab_fixture, truncated_answers_fall_back_to_tcp) {
    start(253);
    auto err = lab->change("many records", [](sim::configuration& c) {
        auto* z = c.find_zone("corp.example");
        for (int i = 1; i <= 100; ++i)
            z->records.push_back({"big.corp.example", 1, 60, fake_dns::a_data{*support::parse_ipv4("127.253.20.0") + static_cast<unsigned>(i)}});
        return std::string{};
    });
    ASSERT_EQ(err, "");
    auto r = resolve("CLIENT1", "big.corp.example");
    ASSERT_EQ(r.what, outcome::answer) << r.describe();
    EXPECT_TRUE(r.over_tcp);
    EXPECT_EQ(r.records.size(), 100u);  // more than fits in 1232 bytes
    // With dns.truncated, TCP is refused as well: the server cannot be used.
    fault({"", "dns.truncated", {{"server", std::string("NS1")}}, {}});
    auto t = resolve("CLIENT1", "big.corp.example");
    EXPECT_EQ(t.what, outcome::unreachable) << t.describe();
}

TEST_F(lab_fixture, hosts_without_tcpip_or_dns_servers_cannot_resolve) {
    start(254);
    EXPECT_EQ(resolve("NS1", "exch1.corp.example").what, outcome::unreachable);  // NS1 has no dns_servers
    EXPECT_EQ(resolve("NOBODY", "exch1.corp.example").what, outcome::unreachable);
}

}  // namespace
