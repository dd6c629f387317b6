#include "trainer/console.hpp"

#include <filesystem>

#include <gtest/gtest.h>

#include "trainer/fixes.hpp"
#include "simulator/catalogue.hpp"
#include "simulator/faults.hpp"
#include "simulator/net.hpp"
#include "simulator/scenario_loader.hpp"
#include "support/ipv4.hpp"

namespace {

using trainer::console;
using trainer::console_action;
using trainer::lookup_result;

sim::scenario guide() {
    sim::diagnostics d;
    auto s = sim::load_scenario(std::string(MAILSIM_SOURCE_DIR) + "/scenarios/default.toml", d);
    EXPECT_TRUE(s);
    return *s;
}

// The lab as a plain model: what the console reads, and a log of what it changed.
class fake_world : public trainer::console_world {
public:
    explicit fake_world(sim::configuration c) : live_(std::move(c)), net_(std::make_unique<sim::network>(live_)) {}

    const sim::configuration& live() const override { return live_; }
    sim::route_result route(sim::ipv4 from, sim::ipv4 to) const override { return net_->route(from, to); }
    bool reachable(sim::ipv4 from, sim::ipv4 to) const override { return net_->reachable(from, to); }
    std::vector<trainer::event_line> events(const std::string&) const override { return events_; }
    std::vector<trainer::queue_line> queue(const std::string&) const override { return queue_; }
    std::vector<std::pair<std::string, std::vector<trainer::message_line>>> connector_queues(const std::string&) const override {
        return connector_queues_;
    }
    std::vector<trainer::message_line> folder(const std::string& host, const std::string& mailbox,
                                              const std::string& folder) const override {
        std::vector<trainer::message_line> out;
        for (auto& [h, m] : messages)
            if (h == host && m.folder == folder && (m.from == mailbox || std::count(m.to.begin(), m.to.end(), mailbox)))
                out.push_back(m);
        return out;
    }
    std::vector<trainer::traffic_line> traffic(const std::string&) const override { return traffic_; }
    std::string clock_text() const override { return "00:10:00"; }
    std::string change(const std::string& what, const std::function<std::string(sim::configuration&)>& edit) override {
        auto next = live_;
        if (auto err = edit(next); !err.empty()) return err;
        live_ = std::move(next);
        net_ = std::make_unique<sim::network>(live_);
        changes.push_back(what);
        return {};
    }
    sim::service_result control_service(const std::string& host, const std::string& key, bool start) override {
        sim::service_result r;
        change("service", [&](sim::configuration& c) {
            auto* h = c.find_host(host);
            r = start ? sim::start_service(*h, key) : sim::stop_service(*h, key);
            return std::string{};
        });
        for (auto& e : r.events) events_.push_back({events_.size() + 1, "11/27/26", "4:20:00 AM", e.id, e.source, e.type, e.log, e.text});
        return r;
    }
    std::string send_mail(const std::string& host, const std::string& from, const std::vector<std::string>& to,
                          const std::string& subject, std::uint64_t size, std::string& error) override {
        if (to.front().find("reject") != std::string::npos) {
            error = "no route";
            return {};
        }
        sent.push_back({host, from, to, subject, size});
        return "M" + std::to_string(sent.size());
    }
    void retry_queue(const std::string& host) override { retried.push_back(host); }

    struct sent_mail {
        std::string host, from;
        std::vector<std::string> to;
        std::string subject;
        std::uint64_t size;
    };
    std::vector<std::string> changes, retried;
    std::vector<sent_mail> sent;
    std::vector<std::pair<std::string, trainer::message_line>> messages;
    std::vector<trainer::event_line> events_;
    std::vector<trainer::queue_line> queue_;
    std::vector<std::pair<std::string, std::vector<trainer::message_line>>> connector_queues_;
    std::vector<trainer::traffic_line> traffic_;

private:
    sim::configuration live_;
    std::unique_ptr<sim::network> net_;
};

struct ConsoleTest : ::testing::Test {
    sim::scenario s = guide();
    fake_world world{s.answer};
    console con{world, "MAILHOST"};

    std::string run(std::string_view line) {
        auto r = con.run(line);
        EXPECT_FALSE(r.action) << line;
        return r.output;
    }
    void inject(const std::string& kind, std::map<std::string, sim::param_value> params) {
        sim::fault f{"f1", kind, std::move(params), {}};
        world.change("inject", [&](sim::configuration& c) {
            sim::apply_fault(c, f);
            return std::string{};
        });
    }
};

bool has(const std::string& text, std::string_view what) { return text.find(what) != std::string::npos; }

TEST_F(ConsoleTest, HelpListsEveryCommandAndExplainsOne) {
    auto all = run("help");
    for (auto c : {"hosts", "logon", "ipconfig", "ping", "tracert", "nslookup", "telnet", "net", "eventvwr", "netcfg",
                   "router", "dnsadmin", "admin", "smtpadmin", "client", "netmon", "exit"})
        EXPECT_TRUE(has(all, c)) << c;
    EXPECT_TRUE(has(run("help telnet"), "telnet HOST|ADDRESS [PORT]"));
    EXPECT_TRUE(has(run("HELP NETCFG"), "netcfg set gateway"));
    EXPECT_TRUE(has(run("help frobnicate"), "there is no command called 'frobnicate'"));
}

TEST_F(ConsoleTest, UnknownCommandIsNamedWithAGuess) {
    auto out = run("ipconfg /all");
    EXPECT_TRUE(has(out, "'ipconfg' is not recognized as an internal or external command"));
    EXPECT_TRUE(has(out, "Did you mean `ipconfig`?"));
    EXPECT_EQ(run(""), "");
}

TEST_F(ConsoleTest, HostsAndLogon) {
    auto out = run("hosts");
    EXPECT_TRUE(has(out, "EXCH1"));
    EXPECT_TRUE(has(out, "127.25.10.190"));
    EXPECT_TRUE(has(out, "(you are here)"));
    EXPECT_EQ(con.prompt(), "MAILHOST C:\\> ");
    EXPECT_EQ(run("logon exch1"), "Logged on to EXCH1 (127.25.10.190).\n");
    EXPECT_EQ(con.host(), "EXCH1");
    EXPECT_EQ(run("logon 127.25.10.53"), "Logged on to NS1 (127.25.10.53).\n");
    EXPECT_TRUE(has(run("logon NOSUCH"), "there is no host called 'NOSUCH'"));
    EXPECT_TRUE(has(run("logon"), "Usage: logon HOST"));
    EXPECT_EQ(con.host(), "NS1");
}

TEST_F(ConsoleTest, IpconfigAllShowsNameAddressMaskGatewayAndDns) {
    run("logon EXCH1");
    auto out = run("ipconfig /all");
    EXPECT_TRUE(has(out, "Windows NT IP Configuration"));
    EXPECT_TRUE(has(out, "Host Name . . . . . . . . . : exch1.corp.example"));
    EXPECT_TRUE(has(out, "DNS Servers . . . . . . . . : 127.25.10.53"));
    EXPECT_TRUE(has(out, "IP Address. . . . . . . . . : 127.25.10.190"));
    EXPECT_TRUE(has(out, "Subnet Mask . . . . . . . . : 255.255.248.0"));
    EXPECT_TRUE(has(out, "Default Gateway . . . . . . : 127.25.8.1"));
    auto brief = run("ipconfig");
    EXPECT_FALSE(has(brief, "Host Name"));
    EXPECT_TRUE(has(brief, "127.25.10.190"));
    EXPECT_TRUE(has(run("ipconfig /bogus"), "Usage: ipconfig"));
}

TEST_F(ConsoleTest, PingByAddressFollowsTheNetwork) {
    auto ok = run("ping 127.25.10.190");
    EXPECT_TRUE(has(ok, "Pinging 127.25.10.190 with 32 bytes of data:"));
    EXPECT_TRUE(has(ok, "Reply from 127.25.10.190: bytes=32 time<10ms TTL=127"));  // one router on the way back
    inject("net.wrong_gateway", {{"host", "MAILHOST"}, {"gateway", "127.25.200.9"}});
    auto bad = run("ping 127.25.10.190");
    EXPECT_TRUE(has(bad, "Request timed out."));
    EXPECT_FALSE(has(bad, "Reply from"));
    // The same segment still answers.
    EXPECT_TRUE(has(run("ping 127.25.200.1"), "Reply from 127.25.200.1"));
}

TEST_F(ConsoleTest, PingByNameResolvesFirst) {
    auto r = con.run("ping exch1.corp.example");
    ASSERT_TRUE(r.action);
    EXPECT_EQ(r.action->what, console_action::kind::resolve);
    EXPECT_EQ(r.action->host, "MAILHOST");
    EXPECT_EQ(r.action->name, "exch1.corp.example");
    lookup_result answer;
    answer.what = lookup_result::outcome::answer;
    answer.addresses = {"127.25.10.190"};
    auto out = con.resume_resolve(answer).output;
    EXPECT_TRUE(has(out, "Pinging exch1.corp.example [127.25.10.190] with 32 bytes of data:"));
    EXPECT_TRUE(has(out, "Reply from 127.25.10.190"));

    con.run("ping nosuch.corp.example");
    lookup_result nx;
    nx.what = lookup_result::outcome::nxdomain;
    EXPECT_EQ(con.resume_resolve(nx).output, "Bad IP address nosuch.corp.example.\n");
    // A resume without a pending command does nothing.
    EXPECT_EQ(con.resume_resolve(nx).output, "");
}

TEST_F(ConsoleTest, TracertStopsWhereTheLinkIsDown) {
    auto ok = run("tracert 127.25.100.25");
    EXPECT_TRUE(has(ok, "127.25.200.1"));
    EXPECT_TRUE(has(ok, "mail.example.net [127.25.100.25]"));
    EXPECT_TRUE(has(ok, "Trace complete."));
    inject("net.link_down", {{"routers", std::vector<std::string>{"RTR1", "RTR2"}}});
    auto bad = run("tracert 127.25.100.25");
    EXPECT_TRUE(has(bad, "  1   <10 ms   <10 ms   <10 ms  127.25.200.1"));
    EXPECT_TRUE(has(bad, "Request timed out."));
    EXPECT_TRUE(has(bad, " 30 "));
    EXPECT_FALSE(has(bad, "[127.25.100.25]\n  "));
}

TEST_F(ConsoleTest, NslookupAsksTheServerAndPrintsItsAnswer) {
    auto r = con.run("nslookup -type=MX corp.example 127.25.10.53");
    ASSERT_TRUE(r.action);
    EXPECT_EQ(r.action->what, console_action::kind::nslookup);
    EXPECT_EQ(r.action->type, "MX");
    EXPECT_EQ(r.action->server, "127.25.10.53");
    lookup_result mx;
    mx.what = lookup_result::outcome::answer;
    mx.server = "127.25.10.53";
    mx.server_name = "ns1.corp.example";
    mx.records = {"corp.example. 3600 IN MX 10 mailhost.corp.example."};
    auto out = con.resume_nslookup(mx).output;
    EXPECT_TRUE(has(out, "Server:  ns1.corp.example\nAddress:  127.25.10.53"));
    EXPECT_TRUE(has(out, "corp.example\tMX preference = 10, mail exchanger = mailhost.corp.example"));

    con.run("nslookup exch1.corp.example");
    lookup_result a;
    a.what = lookup_result::outcome::answer;
    a.server = "127.25.10.53";
    a.addresses = {"127.25.10.190"};
    EXPECT_TRUE(has(con.resume_nslookup(a).output, "Name:    exch1.corp.example\nAddress:  127.25.10.190"));

    con.run("nslookup gone.corp.example");
    lookup_result nx;
    nx.what = lookup_result::outcome::nxdomain;
    nx.server = "127.25.10.53";
    nx.server_name = "ns1.corp.example";
    EXPECT_TRUE(has(con.resume_nslookup(nx).output, "*** ns1.corp.example can't find gone.corp.example: Non-existent domain"));

    con.run("nslookup exch1.corp.example");
    lookup_result timeout;
    timeout.server = "127.25.10.53";
    EXPECT_TRUE(has(con.resume_nslookup(timeout).output, "DNS request timed out."));

    EXPECT_TRUE(has(run("nslookup"), "Usage: nslookup"));
    EXPECT_TRUE(has(run("nslookup -type=BOGUS x"), "Unknown query type"));
    EXPECT_TRUE(has(run("nslookup x NOSUCHSERVER"), "Can't find address for server NOSUCHSERVER"));
}

TEST_F(ConsoleTest, TelnetResolvesThenConnects) {
    auto r = con.run("telnet exch1.corp.example 25");
    ASSERT_TRUE(r.action);
    EXPECT_EQ(r.action->what, console_action::kind::resolve);
    lookup_result a;
    a.what = lookup_result::outcome::answer;
    a.addresses = {"127.25.10.190"};
    auto next = con.resume_resolve(a);
    ASSERT_TRUE(next.action);
    EXPECT_EQ(next.action->what, console_action::kind::telnet);
    EXPECT_EQ(next.action->address, "127.25.10.190");
    EXPECT_EQ(next.action->port, 25);
    auto out = con.resume_telnet("open", "220 exch1.corp.example ESMTP\r\n").output;
    EXPECT_TRUE(has(out, "Connecting To exch1.corp.example..."));
    EXPECT_TRUE(has(out, "220 exch1.corp.example ESMTP"));

    r = con.run("telnet 127.25.10.190 25");
    ASSERT_TRUE(r.action);
    EXPECT_EQ(r.action->what, console_action::kind::telnet);
    EXPECT_TRUE(has(con.resume_telnet("refused", "").output, "Connect failed (connection refused)"));

    r = con.run("telnet 127.25.10.190");
    ASSERT_TRUE(r.action);
    EXPECT_EQ(r.action->port, 23);
    EXPECT_TRUE(has(con.resume_telnet("timeout", "").output, "(timed out)"));
    EXPECT_TRUE(has(run("telnet host 99999"), "is not a port number"));
}

TEST_F(ConsoleTest, NetStartListsAndStartsServicesWithTheirEvents) {
    run("logon EXCH1");
    auto list = run("net start");
    EXPECT_TRUE(has(list, "These Windows NT services are started:"));
    EXPECT_TRUE(has(list, "Microsoft Exchange Internet Mail Connector"));
    inject("imc.stopped", {{"host", "EXCH1"}});
    EXPECT_FALSE(has(run("net start"), "Internet Mail Connector"));
    EXPECT_TRUE(has(run("net start msexchangeimc"), "service was started successfully"));
    EXPECT_TRUE(has(run("net start msexchangeimc"), "already been started"));
    EXPECT_TRUE(has(run("net start nosuchservice"), "The service name is invalid."));
    EXPECT_TRUE(has(run("net"), "The syntax of this command is"));

    inject("imc.start_fails", {{"host", "EXCH1"}, {"event_id", std::int64_t{2140}}});
    EXPECT_TRUE(has(run("net start msexchangeimc"), "A service specific error occurred: 2140."));
    auto log = run("eventvwr");
    EXPECT_TRUE(has(log, "MSExchangeIMC"));
    EXPECT_TRUE(has(log, "2140"));
    EXPECT_TRUE(has(run("eventvwr system"), "(no events)"));
    EXPECT_TRUE(has(run("eventvwr bogus"), "Usage: eventvwr"));
}

TEST_F(ConsoleTest, CommandsNotAvailableOnThisHost) {
    EXPECT_TRUE(has(run("admin imc"), "MAILHOST has no Exchange Server; this command is not available here."));
    EXPECT_TRUE(has(run("dnsadmin show"), "MAILHOST is not a DNS server; this command is not available here."));
    run("logon EXCH1");
    EXPECT_TRUE(has(run("smtpadmin show"), "this command is not available here. (On Exchange, use `admin imc`.)"));
}

TEST_F(ConsoleTest, AdminShowsTheImcGwartQueueAndMailboxes) {
    run("logon EXCH1");
    auto imc = run("admin imc");
    EXPECT_TRUE(has(imc, "Transfer mode ......... Inbound & Outbound"));
    EXPECT_TRUE(has(imc, "Address space ......... SMTP:* (cost 1)"));
    auto gwart = run("admin gwart");
    EXPECT_TRUE(has(gwart, "SMTP"));
    EXPECT_TRUE(has(gwart, "Internet Mail Connector (EXCH1)"));
    inject("gwart.other_connector", {{"host", "EXCH1"}, {"connector", "MSMAIL"}});
    world.connector_queues_ = {{"MSMAIL", {{"m1", "outbox", "alice@corp.example", "lunch", "", {"bob@example.net"}, 10, ""}}}};
    gwart = run("admin gwart");
    EXPECT_TRUE(has(gwart, "MSMAIL"));
    EXPECT_TRUE(has(gwart, "MSMAIL has taken 1 message(s)"));

    world.queue_ = {{"Q7", "alice@corp.example", "hello", 2048, 3, "waiting", "00:15:00", "Host unreachable",
                     {{"bob@example.net", "waiting (Host unreachable)"}}}};
    auto q = run("admin queue");
    EXPECT_TRUE(has(q, "1 message"));
    EXPECT_TRUE(has(q, "Message Q7  from alice@corp.example"));
    EXPECT_TRUE(has(q, "Last error ..... Host unreachable"));
    EXPECT_TRUE(has(q, "bob@example.net: waiting (Host unreachable)"));
    run("admin queue retry");
    EXPECT_EQ(world.retried, std::vector<std::string>{"EXCH1"});

    auto boxes = run("admin mailbox");
    EXPECT_TRUE(has(boxes, "alice"));
    EXPECT_TRUE(has(run("admin mailbox alice"), "SMTP alice@corp.example  (reply address)"));
    EXPECT_TRUE(has(run("admin mailbox nobody"), "no mailbox with alias 'nobody'"));
    EXPECT_TRUE(has(run("admin mailbox alice add smtp carol@corp.example"), "already belongs to carol"));
    EXPECT_TRUE(has(run("admin imc set transfer_mode sideways"), "one of none, inbound, outbound"));
    EXPECT_TRUE(has(run("admin imc set colour blue"), "there is no setting 'colour'"));
    EXPECT_TRUE(has(run("admin frob"), "there is no 'frob' here"));
}

TEST_F(ConsoleTest, ClientSendsListsAndReads) {
    run("logon EXCH1");
    auto out = run("client send --to bob@example.net --subject \"hello there\" --size 5MB");
    EXPECT_TRUE(has(out, "Message M1 from alice@corp.example to bob@example.net was submitted to EXCH1."));
    ASSERT_EQ(world.sent.size(), 1u);
    EXPECT_EQ(world.sent[0].subject, "hello there");
    EXPECT_EQ(world.sent[0].size, 5u * 1024 * 1024);
    run("client send --to a@example.net --recipients 4");
    EXPECT_EQ(world.sent[1].to.size(), 4u);
    EXPECT_TRUE(has(run("client send --to reject@example.net"), "the message was not sent: no route"));
    EXPECT_TRUE(has(run("client send"), "say whom to send to"));
    EXPECT_TRUE(has(run("client send --to nobody"), "is not an SMTP address"));

    world.messages.push_back({"EXCH1", {"n1", "inbox", "postmaster@corp.example", "Undeliverable: hello", "Fri, 27 Nov 2026",
                                        {"alice@corp.example"}, 40, "Subject: Undeliverable: hello\r\n\r\nno route\r\n"}});
    auto inbox = run("client inbox");
    EXPECT_TRUE(has(inbox, "Inbox of alice@corp.example (1 message)"));
    EXPECT_TRUE(has(inbox, "Undeliverable: hello"));
    EXPECT_EQ(run("client read 1"), "Subject: Undeliverable: hello\n\nno route\n");
    EXPECT_TRUE(has(run("client read 9"), "there is no message 9"));
    EXPECT_TRUE(has(run("client user carol@corp.example"), "acts as carol@corp.example"));

    // A workstation's user has a mailbox on the Exchange server.
    run("logon CLIENT1");
    run("client send --to bob@example.net");
    EXPECT_EQ(world.sent.back().host, "EXCH1");
}

TEST_F(ConsoleTest, NetmonShowsRecentTraffic) {
    EXPECT_TRUE(has(run("netmon"), "(no traffic yet)"));
    world.traffic_ = {{"00:01:00", "127.25.10.190", true, "connect: Connection refused"},
                      {"00:01:02", "127.25.10.190", true, ">>> MAIL FROM:<a@b>\r\n"}};
    auto out = run("netmon");
    EXPECT_TRUE(has(out, "00:01:00  -> 127.25.10.190   connect: Connection refused"));
    EXPECT_TRUE(has(out, ">>> MAIL FROM:<a@b>\n"));
    EXPECT_FALSE(has(run("netmon 1"), "Connection refused"));
}

TEST_F(ConsoleTest, ChangesAreRejectedWithReasons) {
    run("logon EXCH1");
    EXPECT_TRUE(has(run("netcfg set address 127.25.10.53"), "already in use by NS1 (address conflict)"));
    EXPECT_TRUE(has(run("netcfg set gateway banana"), "is not an IPv4 address"));
    EXPECT_TRUE(has(run("netcfg set colour red"), "there is no setting 'colour'"));
    EXPECT_TRUE(has(run("router RTR9 routing on"), "there is no router called 'RTR9'"));
    EXPECT_TRUE(has(run("router link RTR1 RTR9 up"), "there is no link between RTR1 and RTR9"));
    run("logon NS1");
    EXPECT_TRUE(has(run("dnsadmin add nosuch.example www A 127.25.1.1"), "serves no zone nosuch.example"));
    EXPECT_TRUE(has(run("dnsadmin add corp.example www BOGUS 1"), "unknown record type"));
    EXPECT_TRUE(has(run("dnsadmin add corp.example www A 999.1.1.1"), "dnsadmin: "));
    EXPECT_TRUE(has(run("dnsadmin delete corp.example nothere A"), "no such record"));
    EXPECT_TRUE(world.changes.empty());
    EXPECT_TRUE(has(run("exit"), "Goodbye"));
    EXPECT_TRUE(con.run("exit").quit);
}

TEST_F(ConsoleTest, DnsadminShowsAndEditsZones) {
    run("logon NS1");
    auto zones = run("dnsadmin show");
    EXPECT_TRUE(has(zones, "corp.example"));
    EXPECT_TRUE(has(run("dnsadmin show corp.example"), "exch1.corp.example. 3600 IN A 127.25.10.190"));
    EXPECT_TRUE(has(run("dnsadmin add corp.example www A 127.25.10.80"), "www.corp.example. 3600 IN A 127.25.10.80"));
    EXPECT_TRUE(has(run("dnsadmin show corp.example"), "www.corp.example. 3600 IN A 127.25.10.80"));
    EXPECT_TRUE(has(run("dnsadmin delete corp.example www A"), "Deleted 1 record(s)"));
    EXPECT_FALSE(has(run("dnsadmin show corp.example"), "www.corp.example"));
    EXPECT_EQ(world.changes.size(), 2u);
    EXPECT_EQ(world.changes[0], "dnsadmin add corp.example www A 127.25.10.80");
}

// The console command(s) that fix each fault of the catalogue on the guide's
// network, and the host they run on. Every kind must be fixable from the console.
struct fix {
    std::map<std::string, sim::param_value> params;
    std::vector<std::pair<std::string, std::string>> steps;  // host, command
};

std::map<std::string, fix> fixes(const sim::configuration& answer) {
    using list = std::vector<std::string>;
    // Records come back as the answer configuration has them.
    auto record_fix = [&](const std::string& owner, const std::string& type, const std::string& server) {
        std::vector<std::pair<std::string, std::string>> steps;
        for (auto& z : answer.zones)
            if (z.server == server)
                for (auto& r : z.records)
                    if (r.owner == owner && fake_dns::type_name(r.type) == type)
                        steps.push_back({server, "dnsadmin add " + z.origin + " " + owner + ". " + type + " " +
                                                     fake_dns::rdata_to_text(r)});
        return steps;
    };
    std::map<std::string, fix> t;
    t["imc.not_installed"] = {{{"host", "EXCH1"}}, {{"EXCH1", "admin imc install"}}};
    t["imc.stopped"] = {{{"host", "EXCH1"}}, {{"EXCH1", "net start msexchangeimc"}}};
    t["imc.start_fails"] = {{{"host", "EXCH1"}, {"event_id", std::int64_t{4026}}},
                            {{"EXCH1", "admin imc grant"}, {"EXCH1", "net start msexchangeimc"}}};
    t["imc.transfer_mode"] = {{{"host", "EXCH1"}, {"mode", "outbound"}},
                              {{"EXCH1", "admin imc set transfer_mode inbound_outbound"}}};
    t["mailbox.missing_address"] = {{{"address", "alice@corp.example"}},
                                    {{"EXCH1", "admin mailbox alice add smtp alice@corp.example"}}};
    t["net.wrong_address"] = {{{"host", "EXCH1"}, {"address", "127.25.10.191"}},
                              {{"EXCH1", "netcfg set address 127.25.10.190"}}};
    t["net.wrong_gateway"] = {{{"host", "MAILHOST"}, {"gateway", "127.25.200.9"}},
                              {{"MAILHOST", "netcfg set gateway 127.25.200.1"}}};
    t["net.ip_routing_disabled"] = {{{"router", "RTR1"}}, {{"MAILHOST", "router RTR1 routing on"}}};
    t["net.link_down"] = {{{"routers", list{"RTR1", "RTR2"}}}, {{"MAILHOST", "router link RTR1 RTR2 up"}}};
    t["net.wrong_dns_server"] = {{{"host", "MAILHOST"}, {"address", "127.25.10.54"}},
                                 {{"MAILHOST", "netcfg set dns 127.25.10.53"}}};
    t["dns.bad_a_record"] = {{{"name", "exch1.corp.example"}, {"address", "127.25.10.19"}},
                             {{"NS1", "dnsadmin set corp.example exch1 A 127.25.10.190"}}};
    t["dns.missing_a_record"] = {{{"name", "exch1.corp.example"}}, record_fix("exch1.corp.example", "A", "NS1")};
    t["dns.bad_mx"] = {{{"domain", "corp.example"}, {"exchange", "exch9.corp.example"}},
                       {{"NS1", "dnsadmin set corp.example @ MX 10 mailhost"},
                        {"NS2", "dnsadmin set corp.example @ MX 10 mailhost"}}};
    auto mx = record_fix("example.net", "MX", "NS1");
    for (auto& s : record_fix("example.net", "MX", "NS2")) mx.push_back(s);
    t["dns.missing_mx"] = {{{"domain", "example.net"}}, mx};
    t["dns.server_down"] = {{{"server", "NS1"}}, {{"NS1", "net start dns"}}};
    t["dns.servfail"] = {{{"server", "NS1"}, {"names", list{"corp.example"}}}, {{"NS1", "dnsadmin reload"}}};
    t["dns.slow"] = {{{"server", "NS1"}, {"delay", "5s"}}, {{"NS1", "net stop dns"}, {"NS1", "net start dns"}}};
    t["dns.truncated"] = {{{"server", "NS1"}}, {{"NS1", "net stop dns"}, {"NS1", "net start dns"}}};
    t["smtp.port_closed"] = {{{"host", "MAILHOST"}}, {{"MAILHOST", "net start smtpsvc"}}};
    t["smtp.filtered"] = {{{"host", "MAILHOST"}}, {{"MAILHOST", "netcfg set firewall off"}}};
    t["smtp.stall"] = {{{"host", "MAILHOST"}, {"phase", "rcpt"}},
                       {{"MAILHOST", "net stop smtpsvc"}, {"MAILHOST", "net start smtpsvc"}}};
    t["smtp.size_limit"] = {{{"host", "MAILHOST"}, {"size", "1KB"}}, {{"MAILHOST", "smtpadmin set max_message_size 10MB"}}};
    t["smtp.recipient_limit"] = {{{"host", "EXCH1"}, {"max", std::int64_t{2}}},
                                 {{"EXCH1", "admin imc set max_recipients none"}}};
    t["smtp.relay_denied"] = {{{"host", "MAILHOST"}, {"domain", "corp.example"}},
                              {{"MAILHOST", "smtpadmin relay add corp.example"}}};
    t["smtp.reject"] = {{{"host", "MAILHOST"}, {"phase", "mail"}, {"code", std::int64_t{550}}, {"text", "no"}},
                        {{"MAILHOST", "smtpadmin rule delete mail"}}};
    t["smtp.tempfail"] = {{{"host", "REMOTE"}, {"phase", "data"}, {"code", std::int64_t{451}}},
                          {{"REMOTE", "smtpadmin rule delete data"}}};
    t["smtp.disconnect"] = {{{"host", "REMOTE"}, {"phase", "ehlo"}}, {{"REMOTE", "smtpadmin rule delete ehlo"}}};
    t["smtp.rate_limit"] = {{{"host", "MAILHOST"}, {"per_minute", std::int64_t{3}}},
                            {{"MAILHOST", "smtpadmin set rate_limit none"}}};
    t["imc.address_space"] = {{{"host", "EXCH1"}, {"value", "X400:c=US"}}, {{"EXCH1", "admin imc set address_space SMTP:*"}}};
    t["imc.resolver_search_list"] = {{{"host", "EXCH1"}, {"suffixes", list{"corp.example"}}},
                                     {{"EXCH1", "admin imc set resolver_search_list none"}}};
    t["imc.email_domain"] = {{{"host", "EXCH1"}, {"domain", "example.net"}, {"target", "127.25.100.26"}},
                             {{"EXCH1", "admin imc domain delete example.net"}}};
    t["mta.stopped"] = {{{"host", "EXCH1"}}, {{"EXCH1", "net start msexchangemta"}}};
    t["gwart.other_connector"] = {{{"host", "EXCH1"}, {"connector", "MSMAIL"}}, {{"EXCH1", "admin connector MSMAIL delete"}}};
    t["mail.routing_loop"] = {{{"hosts", list{"MAILHOST", "REMOTE"}}, {"domain", "loop.example"}},
                              {{"MAILHOST", "smtpadmin route delete loop.example"},
                               {"REMOTE", "smtpadmin route delete loop.example"}}};
    t["mail.ndr_loop"] = {{{"hosts", list{"MAILHOST", "REMOTE"}}},
                          {{"MAILHOST", "smtpadmin set backscatter off"}, {"REMOTE", "smtpadmin set backscatter off"}}};
    return t;
}

TEST_F(ConsoleTest, EveryFaultOfTheCatalogueCanBeFixedFromTheConsole) {
    auto table = fixes(s.answer);
    for (auto& k : sim::catalogue()) {
        std::string kind(k.kind);
        SCOPED_TRACE(kind);
        auto it = table.find(kind);
        ASSERT_NE(it, table.end()) << "no console fix for " << kind;
        fake_world w(s.answer);
        sim::fault f{"f1", kind, it->second.params, {}};
        w.change("inject", [&](sim::configuration& c) {
            sim::apply_fault(c, f);
            return std::string{};
        });
        ASSERT_FALSE(sim::fault_cleared(w.live(), s.answer, f)) << "the fault changed nothing";
        ASSERT_FALSE(it->second.steps.empty());
        for (auto& [host, command] : it->second.steps) {
            console c(w, host);
            auto r = c.run(command);
            EXPECT_FALSE(r.action);
            EXPECT_FALSE(has(r.output, "Usage:")) << command << "\n" << r.output;
        }
        EXPECT_TRUE(sim::fault_cleared(w.live(), s.answer, f)) << "still present after the console fix";
    }
}

}  // namespace

// --- the fixes `mailsim explain` prints ------------------------------------------

namespace {

// Injects every fault of a scenario into a model of its lab, runs the console
// commands fixes_for() gives, and expects every fault cleared.
void fix_everything(const sim::scenario& s) {
    fake_world w(s.answer);
    auto faults = sim::resolve_faults(s.faults, s.lab.seed);
    w.change("inject", [&](sim::configuration& c) {
        for (auto& f : faults) sim::apply_fault(c, f);
        return std::string{};
    });
    for (auto& f : faults) {
        SCOPED_TRACE(f.kind);
        auto steps = trainer::fixes_for(f, s.answer);
        ASSERT_FALSE(steps.empty()) << "no fix for " << f.kind;
        for (auto& step : steps) {
            console c(w, step.host);
            auto r = c.run(step.command);
            EXPECT_FALSE(r.action) << step.command;
            EXPECT_FALSE(has(r.output, "Usage:")) << step.command << "\n" << r.output;
            EXPECT_FALSE(has(r.output, "not available here")) << step.command << "\n" << r.output;
        }
    }
    for (auto& f : faults) EXPECT_TRUE(sim::fault_cleared(w.live(), s.answer, f)) << f.kind << " still present";
}

}  // namespace

TEST_F(ConsoleTest, FixesForEveryKindClearTheFault) {
    auto table = fixes(s.answer);
    for (auto& k : sim::catalogue()) {
        std::string kind(k.kind);
        SCOPED_TRACE(kind);
        auto scenario = s;
        scenario.faults.clear();
        sim::fault_spec spec;
        spec.id = "f1";
        spec.kind = kind;
        for (auto& [name, value] : table.at(kind).params) spec.params[name] = sim::fault_param{{value}, false, {}, {}};
        scenario.faults.push_back(spec);
        fix_everything(scenario);
    }
}

TEST(ConsoleFixes, EveryScenarioOfTheLibraryCanBeFixedFromTheConsole) {
    namespace fs = std::filesystem;
    int scenarios = 0;
    for (auto& entry : fs::directory_iterator(std::string(MAILSIM_SOURCE_DIR) + "/scenarios")) {
        if (entry.path().extension() != ".toml") continue;
        SCOPED_TRACE(entry.path().filename().string());
        sim::diagnostics d;
        auto s = sim::load_scenario(entry.path().string(), d);
        ASSERT_TRUE(s);
        fix_everything(*s);
        ++scenarios;
    }
    EXPECT_GE(scenarios, 40);
}
