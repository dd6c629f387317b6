#include "simulator/catalogue.hpp"

#include <algorithm>

#include "support/text.hpp"

namespace sim {

std::string_view describe(param_kind k) {
    switch (k) {
        case param_kind::host: return "a host name or FQDN";
        case param_kind::exchange_host: return "a host with the exchange role";
        case param_kind::smtp_host: return "a host with the relay, mailstore or exchange role";
        case param_kind::relay_host: return "a host with the relay or mailstore role";
        case param_kind::dns_server: return "a host with the dns role";
        case param_kind::router: return "a router name";
        case param_kind::router_pair: return "two routers joined by a [[link]]";
        case param_kind::smtp_hosts: return "a list of two or more SMTP hosts";
        case param_kind::address: return "an IPv4 address inside the lab prefix";
        case param_kind::mailbox_address: return "an SMTP address of an Exchange mailbox";
        case param_kind::dns_name: return "a DNS name inside one of the lab's zones";
        case param_kind::mail_domain: return "a domain name";
        case param_kind::names: return "a list of DNS names";
        case param_kind::suffixes: return "a list of DNS suffixes";
        case param_kind::phase: return "one of banner, ehlo, mail, rcpt, data, dot";
        case param_kind::reply_code: return "an SMTP reply code from 400 to 599";
        case param_kind::tempfail_code: return "an SMTP reply code from 400 to 499";
        case param_kind::text: return "text";
        case param_kind::size: return "a size such as \"10MB\"";
        case param_kind::delay: return "a duration such as \"5s\"";
        case param_kind::count: return "a positive integer";
        case param_kind::mode: return "one of none, inbound, outbound, inbound_outbound";
        case param_kind::event_id: return "one of 1075, 7003, 2140, 4026, 4092, \"drwatson\"";
        case param_kind::connector: return "a connector name";
        case param_kind::address_space: return "an address space such as \"SMTP:*\"";
    }
    return "a value";
}

namespace {

using pk = param_kind;

// The catalogue. Wording is ours; the facts (steps, event IDs, commands,
// symptoms) follow the troubleshooting guide Q191548.
const std::vector<fault_kind> kinds = {
    {"imc.not_installed", {{"host", pk::exchange_host}}, "1", {1},
     "The Internet Mail Connector is not installed on the Exchange server.",
     "Connections to the server's SMTP port are refused; `net start` and the Administrator show no IMC.",
     "installing the IMC",
     {{"telnet", "Connection refused on port 25"},
      {"swaks", "connection refused"},
      {"console", "`net start` lists no Microsoft Exchange Internet Mail Connector; `admin imc` says it is not installed"}}},
    {"imc.stopped", {{"host", pk::exchange_host}}, "2", {2},
     "The IMC service is installed but not running.",
     "Connections to the SMTP port are refused.",
     "`net start msexchangeimc`",
     {{"telnet", "Connection refused on port 25"},
      {"swaks", "connection refused"},
      {"console", "`net start` does not list the Internet Mail Connector"}}},
    {"imc.start_fails", {{"host", pk::exchange_host}, {"event_id", pk::event_id}}, "2-3", {2, 3},
     "The IMC service fails to start and logs an event naming the cause.",
     "Connections are refused; `net start msexchangeimc` fails and the event log records the event ID.",
     "fixing the cause the event names (TCP/IP missing, configuration, MAPI)",
     {{"telnet", "Connection refused on port 25"},
      {"console", "`net start msexchangeimc` fails; `eventvwr` shows the event ID and its text"}}},
    {"imc.transfer_mode", {{"host", pk::exchange_host}, {"mode", pk::mode}}, "4, 6", {4, 6},
     "The IMC's transfer mode does not allow inbound or outbound mail.",
     "Without inbound: the SMTP port refuses connections. Without outbound: messages wait in the IMC outbound queue.",
     "setting the transfer mode to inbound & outbound",
     {{"telnet", "Connection refused on port 25 when inbound is not allowed"},
      {"console", "`admin imc` shows the transfer mode; `admin queue` shows messages waiting"}}},
    {"mailbox.missing_address", {{"address", pk::mailbox_address}}, "4", {4},
     "A mailbox lacks the SMTP address that senders use.",
     "RCPT TO for that address gets `550 5.1.1`.",
     "giving the mailbox that SMTP address",
     {{"telnet", "550 5.1.1 after RCPT TO"}, {"swaks", "550 5.1.1 recipient rejected"}}},
    {"net.wrong_address", {{"host", pk::host}, {"address", pk::address}}, "5", {5},
     "A host's TCP/IP address is not the one DNS and its peers use.",
     "The host answers at no address that DNS or its peers know: connections to the known address time out.",
     "the host's TCP/IP address",
     {{"telnet", "connect to the published address times out"},
      {"dig", "answers are right; the host is not at that address"},
      {"console", "`ipconfig` on the host shows a different address; `ping` of the published address times out"}}},
    {"net.wrong_gateway", {{"host", pk::host}, {"gateway", pk::address}}, "5", {5},
     "A host's default gateway is wrong.",
     "Connections across segments time out; hosts on the same segment still work.",
     "the host's default gateway",
     {{"telnet", "connects across segments time out; same segment works"},
      {"dig", "queries to a server on another segment time out"},
      {"console", "`ipconfig /all` shows the wrong default gateway; `tracert` stops at the first hop"}}},
    {"net.ip_routing_disabled", {{"router", pk::router}}, "5", {5},
     "IP routing is disabled on a router between segments.",
     "Connections that cross that router time out.",
     "enabling IP routing on the router",
     {{"telnet", "connects across the router time out"},
      {"console", "`tracert` stops at the router; `router NAME` shows routing off"}}},
    {"net.link_down", {{"routers", pk::router_pair}}, "5", {5},
     "The link between two routers is down.",
     "Connections that cross that link time out.",
     "bringing the link up",
     {{"telnet", "connects across the link time out"},
      {"console", "`tracert` stops at the near router"}}},
    {"net.wrong_dns_server", {{"host", pk::host}, {"address", pk::address}}, "5", {5},
     "A host is configured with the wrong DNS server.",
     "That host's lookups time out, so its relay or connector defers mail.",
     "the host's DNS servers",
     {{"console", "`ipconfig /all` lists the wrong DNS server; `nslookup` times out"}}},
    {"dns.bad_a_record", {{"name", pk::dns_name}, {"address", pk::address}}, "5", {5},
     "An A record points at the wrong address.",
     "The A answer is wrong, so connections by name go elsewhere (usually timing out).",
     "correcting the A record",
     {{"dig", "the A answer is the wrong address"},
      {"telnet", "telnet by name times out or reaches the wrong host"},
      {"console", "`ping NAME` shows the wrong address; `nslookup NAME` answers it"}},
     true},
    {"dns.missing_a_record", {{"name", pk::dns_name}}, "5", {5},
     "An A record is missing.",
     "Lookups of the name get NXDOMAIN (or NODATA when the name owns other records).",
     "adding the A record",
     {{"dig", "status: NXDOMAIN, SOA in authority"},
      {"console", "`ping NAME` says the host is unknown"}},
     true},
    {"dns.bad_mx", {{"domain", pk::dns_name}, {"exchange", pk::mail_domain}}, "5, 6", {5, 6},
     "The domain's MX record names the wrong host.",
     "The MX answer points at the wrong host, so mail for the domain goes there.",
     "correcting the MX record",
     {{"dig", "the MX answer names the wrong exchange"},
      {"swaks", "swaks --to user@domain connects to the wrong host"}},
     true},
    {"dns.missing_mx", {{"domain", pk::dns_name}}, "6", {6},
     "The domain has no MX record.",
     "MX lookups get no answer; senders fall back to the domain's A record (RFC 5321 5.1).",
     "adding the MX record",
     {{"dig", "MX query: NOERROR with no answer (NODATA)"}},
     true},
    {"dns.server_down", {{"server", pk::dns_server}}, "5", {5},
     "The DNS service on a server is down.",
     "Queries to that server time out.",
     "starting the DNS service",
     {{"dig", "connection timed out; no servers could be reached"},
      {"console", "`nslookup` times out"}},
     true},
    {"dns.servfail", {{"server", pk::dns_server}, {"names", pk::names, false}}, "5", {5},
     "A DNS server fails to answer for some names (a broken zone).",
     "Queries for those names (every name when none are listed) get SERVFAIL.",
     "repairing the zone on the server",
     {{"dig", "status: SERVFAIL"}},
     true},
    {"dns.slow", {{"server", pk::dns_server}, {"delay", pk::delay}}, "5", {5},
     "A DNS server answers late.",
     "Answers arrive after the delay (lab time); clients with shorter time-outs give up.",
     "fixing the server",
     {{"dig", "Query time shows the delay; short +time values time out"}},
     true},
    {"dns.truncated", {{"server", pk::dns_server}}, "5", {5},
     "A DNS server truncates every UDP answer and refuses TCP.",
     "UDP answers come back with TC set and no records; the TCP retry is refused.",
     "fixing the server",
     {{"dig", "flags include tc; the TCP retry gets connection refused"}},
     true},
    {"smtp.port_closed", {{"host", pk::smtp_host}}, "6", {6},
     "The SMTP service on a host is not listening.",
     "Connections to its SMTP port are refused.",
     "starting the SMTP service",
     {{"telnet", "Connection refused"}, {"swaks", "connection refused"}},
     true},
    {"smtp.filtered", {{"host", pk::smtp_host}}, "6", {6},
     "A firewall on the host drops SMTP.",
     "Connections to its SMTP port time out from everywhere.",
     "the host firewall rule",
     {{"telnet", "connect times out"}, {"swaks", "connection timed out"}},
     true},
    {"smtp.stall", {{"host", pk::smtp_host}, {"phase", pk::phase}}, "6", {6},
     "The SMTP service hangs at one phase of the dialogue.",
     "The connection opens, then no reply comes at that phase.",
     "restarting the SMTP service",
     {{"telnet", "no reply after the command of that phase"}, {"swaks", "times out waiting for a reply"}},
     true},
    {"smtp.size_limit", {{"host", pk::smtp_host}, {"size", pk::size}}, "5", {5},
     "A host's message size limit is too small.",
     "Larger messages get `552 5.3.4`; EHLO advertises the SIZE limit.",
     "raising the size limit",
     {{"telnet", "EHLO shows SIZE with the limit; large DATA gets 552 5.3.4"},
      {"swaks", "552 5.3.4 for a large --attach"}},
     true},
    {"smtp.recipient_limit", {{"host", pk::smtp_host}, {"max", pk::count}}, "5", {5},
     "A host accepts too few recipients per message.",
     "RCPT TO beyond `max` recipients gets `452 4.5.3`.",
     "raising the recipient limit",
     {{"telnet", "452 4.5.3 after too many RCPT TO"}},
     true},
    {"smtp.relay_denied", {{"host", pk::relay_host}, {"domain", pk::mail_domain}}, "5", {5},
     "A relay no longer relays a domain it should.",
     "RCPT TO for that domain gets `554 5.7.1` relaying denied.",
     "the host's relay domains",
     {{"telnet", "554 5.7.1 relaying denied after RCPT TO"}, {"swaks", "554 5.7.1"}},
     true},
    {"smtp.reject",
     {{"host", pk::smtp_host}, {"phase", pk::phase}, {"code", pk::reply_code}, {"text", pk::text, false}},
     "4-6", {4, 5, 6},
     "A host's policy rejects at one phase.",
     "That reply code and text at that phase.",
     "the host's policy",
     {{"telnet", "the configured reply at that phase"}},
     true},
    {"smtp.tempfail", {{"host", pk::smtp_host}, {"phase", pk::phase}, {"code", pk::tempfail_code}}, "6", {6},
     "A host answers a temporary failure at one phase.",
     "A 4xx reply at that phase; senders queue the message and retry.",
     "the host's policy",
     {{"telnet", "a 4xx reply at that phase"}},
     true},
    {"smtp.disconnect", {{"host", pk::smtp_host}, {"phase", pk::phase}}, "6", {6},
     "A host drops the connection at one phase.",
     "The connection closes at that phase without a reply.",
     "the host's policy",
     {{"telnet", "Connection closed by foreign host"}},
     true},
    {"smtp.rate_limit", {{"host", pk::smtp_host}, {"per_minute", pk::count}}, "5", {5},
     "A host limits connections per client per minute.",
     "Past `per_minute` connections a minute from one host: `421 4.7.0` and close.",
     "the host's policy",
     {{"telnet", "421 4.7.0 on connect after a burst"}},
     true},
    {"imc.address_space", {{"host", pk::exchange_host}, {"value", pk::address_space}}, "6", {6},
     "The IMC's address space does not cover Internet addresses.",
     "Every outbound message bounces at once: no route.",
     "restoring the address space",
     {{"console", "`admin imc` shows the address space; `client inbox` holds an immediate NDR"}}},
    {"imc.resolver_search_list", {{"host", pk::exchange_host}, {"suffixes", pk::suffixes}}, "6", {6},
     "The IMC appends a resolver search suffix to every destination.",
     "Outbound lookups get the suffix, fail, and messages bounce at once.",
     "clearing the resolver search list",
     {{"console", "`admin imc` shows ResolverSearchList; NDRs arrive at once"}}},
    {"imc.email_domain", {{"host", pk::exchange_host}, {"domain", pk::mail_domain}, {"target", pk::address}}, "6",
     {6},
     "An Email Domain entry sends a domain's mail to the wrong host.",
     "Messages for that domain wait in the IMC queue with \"Host unreachable\".",
     "correcting the Email Domain entry",
     {{"console", "`admin queue` details say Host unreachable; `admin imc` lists the Email Domain entry"}}},
    {"mta.stopped", {{"host", pk::exchange_host}}, "6", {6},
     "The message transfer agent is stopped.",
     "Messages stay in the sender's Outbox.",
     "`net start msexchangemta`",
     {{"console", "`client outbox` keeps the message; `net start` has no MTA"}}},
    {"gwart.other_connector", {{"host", pk::exchange_host}, {"connector", pk::connector}}, "6", {6},
     "Another connector claims SMTP addresses at a lower cost than the IMC.",
     "Messages never reach the IMC queue; the other connector takes them.",
     "that connector's address space",
     {{"console", "`admin gwart` lists the other connector for SMTP:*; `admin queue` stays empty"}}},
    {"mail.routing_loop", {{"hosts", pk::smtp_hosts}, {"domain", pk::mail_domain}}, "NDR loops", {},
     "Two or more relays route a domain to each other.",
     "Each hop adds a Received line; at max_hops the message bounces with `554 5.4.6`.",
     "the routes",
     {{"swaks", "accepted; the sender later gets a 554 5.4.6 bounce"}}},
    {"mail.ndr_loop", {{"hosts", pk::smtp_hosts}}, "NDR loops", {},
     "Hosts accept mail for unknown users and bounce it later, from a real sender address, so bounces get bounced.",
     "NDRs ping-pong between the hosts until the storm cap contains them.",
     "the misconfigured host",
     {{"console", "`netmon` shows bounces flowing both ways"}}},
};

const std::vector<start_failure> failures = {
    {"1075", "tcpip", "TCP/IP is not installed (the service it depends on does not exist)"},
    {"7003", "tcpip", "TCP/IP is not installed (a service it depends on does not exist)"},
    {"2140", "configuration", "the IMC is not configured (run its setup again)"},
    {"4026", "mapi", "MAPI initialisation failed (the information store is not running)"},
    {"4092", "queue", "the IMC could not open its work queue (events 4018 and 4086 follow)"},
    {"drwatson", "crash", "MSEXCIMC.EXE crashes at start (Dr. Watson); a damaged installation"},
};

}  // namespace

std::span<const fault_kind> catalogue() { return kinds; }

const fault_kind* find_fault_kind(std::string_view name) {
    for (auto& k : kinds)
        if (support::iequals(k.kind, name)) return &k;
    return nullptr;
}

std::vector<std::string_view> fault_kind_names() {
    std::vector<std::string_view> out;
    for (auto& k : kinds) out.push_back(k.kind);
    return out;
}

std::span<const start_failure> start_failures() { return failures; }

const start_failure* find_start_failure(std::string_view event_id) {
    for (auto& f : failures)
        if (support::iequals(f.event_id, event_id)) return &f;
    return nullptr;
}

}  // namespace sim
