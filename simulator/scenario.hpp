#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "fake_dns/record.hpp"
#include "simulator/source.hpp"
#include "support/ipv4.hpp"
#include "support/text.hpp"

namespace sim {

using support::duration;
using support::ipv4;

/// What a host does in the lab (SPEC 3).
enum class role { dns, relay, mailstore, exchange, client };
std::string_view to_string(role r);

/// SMTP phases at which a policy rule can act.
enum class smtp_phase { banner, ehlo, mail, rcpt, data, dot };
std::string_view to_string(smtp_phase p);
std::optional<smtp_phase> parse_phase(std::string_view s);

/// IMC transfer modes (Exchange 5.0, IMC Connections tab).
enum class transfer_mode { none, inbound, outbound, inbound_outbound };
std::string_view to_string(transfer_mode m);
std::optional<transfer_mode> parse_transfer_mode(std::string_view s);

struct segment_config {
    std::string name;
    support::cidr cidr;
    source_pos pos;
    bool operator==(const segment_config& o) const { return name == o.name && cidr == o.cidr; }
};

struct router_config {
    std::string name;
    std::vector<ipv4> addresses;
    bool ip_routing = true;
    source_pos pos;
    bool operator==(const router_config& o) const {
        return name == o.name && addresses == o.addresses && ip_routing == o.ip_routing;
    }
};

/// A point-to-point link between two routers.
struct link_config {
    std::string a, b;
    bool up = true;
    source_pos pos;
    bool operator==(const link_config& o) const { return a == o.a && b == o.b && up == o.up; }
};

struct smtp_route {
    std::string domain;
    std::string next_hop;  ///< a host name, FQDN or address
    bool operator==(const smtp_route&) const = default;
};

/// A reply the host's SMTP policy forces at one phase (smtp.reject, smtp.tempfail,
/// smtp.disconnect, smtp.stall).
struct smtp_rule {
    enum class action { reject, tempfail, disconnect, stall };
    action what = action::reject;
    int code = 0;
    std::string text;
    bool operator==(const smtp_rule&) const = default;
};

/// `[host.smtp]`: a relay's or mail store's configuration.
struct smtp_config {
    std::vector<std::string> local_domains;
    std::vector<std::string> mailboxes;
    std::vector<std::string> relay_domains;
    std::vector<smtp_route> routes;
    std::string smart_host;
    std::uint64_t max_message_size = 10 * 1024 * 1024;  ///< 0 = no limit
    int max_recipients = 100;
    int max_hops = 30;
    duration bounce_after = std::chrono::hours(48);
    std::vector<duration> retry = {std::chrono::minutes(1), std::chrono::minutes(5), std::chrono::minutes(15),
                                   std::chrono::hours(1)};
    bool operator==(const smtp_config&) const = default;
};

struct email_domain {
    std::string domain;
    std::string host;  ///< where the IMC sends that domain's mail
    bool operator==(const email_domain&) const = default;
};

/// `[host.exchange.imc]`: the Internet Mail Connector.
struct imc_config {
    bool installed = true;
    bool running = true;  ///< `service = "running" | "stopped"`
    transfer_mode mode = transfer_mode::inbound_outbound;
    std::vector<std::string> address_space = {"SMTP:*"};
    int cost = 1;
    std::vector<email_domain> email_domains;
    std::string smart_host;
    std::vector<std::string> resolver_search_list;
    std::uint64_t max_message_size = 0;
    int max_recipients = 0;  ///< 0 = no limit
    std::string protocol_log = "none";  ///< none | medium | maximum
    /// Live only: why the service cannot start ("" = nothing; "tcpip",
    /// "configuration", "mapi", "queue", "crash"), set by imc.start_fails.
    std::string start_blocker;
    bool operator==(const imc_config&) const = default;
};

struct exchange_mailbox {
    std::string alias;
    std::string display_name;
    std::vector<std::string> smtp;  ///< SMTP proxy addresses, the first is the reply address
    source_pos pos;
    bool operator==(const exchange_mailbox& o) const {
        return alias == o.alias && display_name == o.display_name && smtp == o.smtp;
    }
};

/// Another connector in the site (an MS Mail connector, an X.400 connector...).
struct exchange_connector {
    std::string name;
    std::vector<std::string> address_space;
    int cost = 1;
    source_pos pos;
    bool operator==(const exchange_connector& o) const {
        return name == o.name && address_space == o.address_space && cost == o.cost;
    }
};

/// `[host.exchange]`.
struct exchange_config {
    std::string org_domain;
    bool mta_running = true;
    bool store_running = true;
    imc_config imc;
    std::vector<exchange_mailbox> mailboxes;
    std::vector<exchange_connector> connectors;
    bool operator==(const exchange_config&) const = default;
};

/// Live state of a host's DNS service (dns.* server faults change it).
struct dns_service_state {
    bool running = true;                                ///< dns.server_down
    std::optional<std::vector<std::string>> servfail;   ///< dns.servfail (empty list = every name)
    duration delay{0};                                  ///< dns.slow
    bool truncated = false;                             ///< dns.truncated
    bool operator==(const dns_service_state&) const = default;
};

/// Live state of a host's SMTP service (smtp.* faults change it).
struct smtp_service_state {
    bool running = true;      ///< smtp.port_closed
    bool firewalled = false;  ///< smtp.filtered
    std::map<smtp_phase, smtp_rule> rules;
    int rate_limit_per_minute = 0;  ///< 0 = none
    bool bounces_bounces = false;   ///< mail.ndr_loop: this host answers bounces with bounces
    bool operator==(const smtp_service_state&) const = default;
};

struct host_config {
    std::string name;
    std::string fqdn;
    ipv4 address = 0;
    std::optional<ipv4> gateway;
    std::vector<ipv4> dns_servers;
    std::vector<role> roles;
    std::optional<smtp_config> smtp;
    std::optional<exchange_config> exchange;
    // Live-only aspects; the answer configuration has them healthy.
    bool tcpip_installed = true;
    dns_service_state dns;
    smtp_service_state smtp_service;
    source_pos pos;

    bool has_role(role r) const;
    bool operator==(const host_config& o) const;
};

/// A zone served by a `dns` host.
struct zone_config {
    std::string origin;               ///< canonical
    std::string server;               ///< host name
    std::vector<std::string> clients; ///< segment names; empty = everyone (split DNS)
    std::vector<fake_dns::record> records;
    source_pos pos;
    std::vector<source_pos> record_pos;  ///< where each record was written (for messages)
    bool operator==(const zone_config& o) const {
        return origin == o.origin && server == o.server && clients == o.clients && records == o.records;
    }
};

/// The part of a scenario that is live at run time: the network, hosts and
/// zones. The answer configuration and the live configuration are both this.
struct configuration {
    std::vector<segment_config> segments;
    std::vector<router_config> routers;
    std::vector<link_config> links;
    std::vector<host_config> hosts;
    std::vector<zone_config> zones;

    /// Lookups by name (case-insensitive) or, for hosts, by FQDN.
    const host_config* find_host(std::string_view name_or_fqdn) const;
    host_config* find_host(std::string_view name_or_fqdn);
    const host_config* host_at(ipv4 address) const;
    const router_config* find_router(std::string_view name) const;
    router_config* find_router(std::string_view name);
    const segment_config* find_segment(std::string_view name) const;
    const segment_config* segment_of(ipv4 address) const;
    link_config* find_link(std::string_view a, std::string_view b);
    const link_config* find_link(std::string_view a, std::string_view b) const;
    const zone_config* find_zone(std::string_view origin) const;
    zone_config* find_zone(std::string_view origin);
    /// The zone (longest origin) that contains `name`, or nullptr.
    zone_config* zone_for(std::string_view name);
    const zone_config* zone_for(std::string_view name) const;
};

/// A fault parameter value as written in a scenario.
using param_value = std::variant<std::string, std::int64_t, double, bool, std::vector<std::string>>;
std::string to_string(const param_value& v);

/// A parameter of a `[[fault]]`: one value, or alternatives to pick from.
struct fault_param {
    std::vector<param_value> choices;  ///< one entry unless picked
    bool picked = false;               ///< written as `{ pick = [...] }`
    source_pos pos;
    std::vector<source_pos> choice_pos;  ///< where each choice was written (the entries of a pick)
};

/// When a fault acts (SPEC 3), all on the lab clock.
struct fault_timing {
    std::optional<duration> after;
    std::optional<duration> until;
    std::optional<std::pair<duration, duration>> flap;  ///< on, off
    std::optional<int> first;
    std::optional<double> odds;
    bool operator==(const fault_timing&) const = default;
    bool gated() const { return first || odds; }
};

/// A `[[fault]]` as written, before picks are resolved.
struct fault_spec {
    std::string id;  ///< from `id = ...`, else "f1", "f2"... in file order
    std::string kind;
    std::map<std::string, fault_param> params;
    fault_timing timing;
    source_pos pos;
};

/// A fault with every parameter decided.
struct fault {
    std::string id;
    std::string kind;
    std::map<std::string, param_value> params;
    fault_timing timing;

    /// The parameter as text ("" when absent); lists joined with ",".
    std::string text(std::string_view key) const;
    /// A list parameter (a scalar gives a one-element list).
    std::vector<std::string> list(std::string_view key) const;
};

struct trainer_hint {
    std::string text;
    source_pos pos;
};

/// `[[trainer.check]]`: something that must hold once the lab is fixed.
struct trainer_check {
    std::string kind;  ///< deliver | resolve | connect
    // deliver
    std::string from, to, via;
    std::string expect;  ///< deliver: delivered|bounced|queued; resolve: an address or "nxdomain"; connect: open|refused|timeout
    std::optional<std::uint64_t> size;
    std::optional<int> recipients;
    // resolve / connect
    std::string name, type, host;
    int port = 0;
    duration within = std::chrono::minutes(10);
    source_pos pos;
};

struct trainer_config {
    duration time_limit = std::chrono::minutes(45);
    int points = 100;
    int hint_cost = 10;
    int wrong_diagnosis_cost = 15;
    std::vector<trainer_hint> hints;
    std::vector<trainer_check> checks;
};

struct expected_finding {
    std::string kind;
    std::string target;
    source_pos pos;
};

struct scenario_meta {
    source_pos pos;          ///< the [scenario] table
    source_pos vantage_pos;
    std::string id;
    std::string title;
    std::optional<int> guide_step;
    std::string difficulty = "intro";
    std::vector<std::string> tags;
    std::string vantage;
    std::string briefing;
};

/// `[lab]`.
struct lab_settings {
    std::string prefix = "127.25";
    double speed = 1.0;
    std::uint64_t seed = 0;
    std::optional<int> smtp_port;
    std::optional<int> dns_port;
};

/// A whole scenario: plain data, no toml++.
struct scenario {
    std::string path;                   ///< the file it was loaded from
    std::vector<std::string> included;  ///< every file merged in, in order
    scenario_meta meta;
    lab_settings lab;
    configuration answer;  ///< the answer configuration: how the lab should be
    std::vector<fault_spec> faults;
    std::optional<trainer_config> trainer;
    std::optional<std::vector<expected_finding>> expect;
};

/// The second octet of a prefix "127.N"; nullopt unless 127.1 .. 127.255.
std::optional<int> parse_prefix(std::string_view prefix);

}  // namespace sim
