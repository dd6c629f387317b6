#include "simulator/lab_api.hpp"

#include <algorithm>
#include <ctime>
#include <deque>
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "fake_dns/zone_file.hpp"
#include "simulator/catalogue.hpp"
#include "fake_smtp/command.hpp"
#include "fake_smtp/mail_policy.hpp"
#include "simulator/faults.hpp"
#include "simulator/lab_console.hpp"
#include "simulator/mail_agent.hpp"
#include "simulator/services.hpp"
#include "simulator/trainer_service.hpp"
#include "simulator/validate.hpp"
#include "trainer/web/trainee_page.hpp"

namespace sim {

namespace json = boost::json;
using support::format_ipv4;

namespace {

api_response ok(const json::value& v, int status = 200) { return {status, "application/json", json::serialize(v)}; }

json::array strings(const std::vector<std::string>& v) {
    json::array a;
    for (auto& s : v) a.emplace_back(s);
    return a;
}

json::array addresses(const std::vector<ipv4>& v) {
    json::array a;
    for (auto x : v) a.emplace_back(format_ipv4(x));
    return a;
}

json::object services_of(const lab& l, const std::string& host) {
    json::object s;
    for (auto& e : l.services())
        if (e.host == host) s[e.service] = e.port;
    return s;
}

json::value param_json(const param_value& v) {
    struct visitor {
        json::value operator()(const std::string& s) const { return json::value(s); }
        json::value operator()(std::int64_t i) const { return json::value(i); }
        json::value operator()(double d) const { return json::value(d); }
        json::value operator()(bool b) const { return json::value(b); }
        json::value operator()(const std::vector<std::string>& l) const { return strings(l); }
    };
    return std::visit(visitor{}, v);
}

double seconds(duration d) { return static_cast<double>(d.count()) / 1000.0; }

json::object fault_json(const fault_status& s) {
    json::object o;
    o["id"] = s.f.id;
    o["kind"] = s.f.kind;
    o["target"] = fault_target(s.f);
    // Parameters sit beside the fields (SPEC 8) and, whole, under "params": a
    // parameter whose name is a field's (imc.email_domain's `target`) is only there.
    json::object params;
    for (auto& [k, v] : s.f.params)
        if (!k.empty() && k[0] != '_') {
            params[k] = param_json(v);
            if (!o.contains(k) && k != "state" && k != "source") o[k] = param_json(v);
        }
    o["params"] = std::move(params);
    o["state"] = s.state;
    o["source"] = s.source;
    o["injected_at"] = seconds(s.injected_at);
    auto& t = s.f.timing;
    if (t.after) o["after"] = support::format_duration(*t.after);
    if (t.until) o["until"] = support::format_duration(*t.until);
    if (t.flap) o["flap"] = {{"on", support::format_duration(t.flap->first)}, {"off", support::format_duration(t.flap->second)}};
    if (t.first) o["first"] = *t.first;
    if (t.odds) o["odds"] = *t.odds;
    return o;
}

json::object record_json(const fake_dns::record& r) {
    return {{"name", r.owner},
            {"ttl", r.ttl},
            {"type", fake_dns::type_name(r.type)},
            {"data", fake_dns::rdata_to_text(r)},
            {"text", fake_dns::to_text(r)}};
}

json::object zone_json(const zone_config& z, bool with_records) {
    json::object o{{"origin", z.origin}, {"server", z.server}, {"clients", strings(z.clients)},
                   {"record_count", z.records.size()}};
    if (with_records) {
        json::array recs;
        for (auto& r : z.records) recs.push_back(record_json(r));
        o["records"] = std::move(recs);
    }
    return o;
}

json::array roles_json(const host_config& h) {
    json::array roles;
    for (auto r : h.roles) roles.emplace_back(to_string(r));
    return roles;
}

json::object smtp_json(const smtp_config& s) {
    json::array routes;
    for (auto& r : s.routes) routes.push_back({{"domain", r.domain}, {"next_hop", r.next_hop}});
    json::array retry;
    for (auto d : s.retry) retry.emplace_back(support::format_duration(d));
    return {{"local_domains", strings(s.local_domains)},
            {"mailboxes", strings(s.mailboxes)},
            {"relay_domains", strings(s.relay_domains)},
            {"routes", std::move(routes)},
            {"smart_host", s.smart_host},
            {"max_message_size", support::format_size(s.max_message_size)},
            {"max_recipients", s.max_recipients},
            {"max_hops", s.max_hops},
            {"bounce_after", support::format_duration(s.bounce_after)},
            {"retry", std::move(retry)}};
}

json::object exchange_json(const exchange_config& e) {
    auto& i = e.imc;
    json::array domains;
    for (auto& d : i.email_domains) domains.push_back({{"domain", d.domain}, {"host", d.host}});
    json::object imc{{"installed", i.installed},
                     {"service", i.running ? "running" : "stopped"},
                     {"transfer_mode", to_string(i.mode)},
                     {"address_space", strings(i.address_space)},
                     {"cost", i.cost},
                     {"email_domains", std::move(domains)},
                     {"smart_host", i.smart_host},
                     {"resolver_search_list", strings(i.resolver_search_list)},
                     {"max_message_size", support::format_size(i.max_message_size)},
                     {"max_recipients", i.max_recipients},
                     {"protocol_log", i.protocol_log},
                     {"start_blocker", i.start_blocker}};
    json::array boxes;
    for (auto& m : e.mailboxes)
        boxes.push_back({{"alias", m.alias}, {"display_name", m.display_name}, {"smtp", strings(m.smtp)}});
    json::array connectors;
    for (auto& c : e.connectors)
        connectors.push_back({{"name", c.name}, {"address_space", strings(c.address_space)}, {"cost", c.cost}});
    return {{"org_domain", e.org_domain},
            {"mta", e.mta_running ? "running" : "stopped"},
            {"store", e.store_running ? "running" : "stopped"},
            {"imc", std::move(imc)},
            {"mailboxes", std::move(boxes)},
            {"connectors", std::move(connectors)}};
}

json::object host_summary(const lab& l, const host_config& h) {
    json::object o{{"name", h.name}, {"fqdn", h.fqdn}, {"address", format_ipv4(h.address)}, {"roles", roles_json(h)},
                   {"services", services_of(l, h.name)}};
    return o;
}

json::object host_detail(const lab& l, const host_config& h) {
    auto o = host_summary(l, h);
    o["gateway"] = h.gateway ? json::value(format_ipv4(*h.gateway)) : json::value(nullptr);
    o["dns_servers"] = addresses(h.dns_servers);
    auto* seg = l.live().segment_of(h.address);
    o["segment"] = seg ? json::value(seg->name) : json::value(nullptr);
    o["tcpip_installed"] = h.tcpip_installed;
    json::object dns{{"service", h.dns.running ? "running" : "stopped"},
                     {"servfail", h.dns.servfail ? json::value(strings(*h.dns.servfail)) : json::value(nullptr)},
                     {"delay", support::format_duration(h.dns.delay)},
                     {"truncated", h.dns.truncated}};
    if (h.has_role(role::dns)) o["dns"] = std::move(dns);
    json::object rules;
    for (auto& [phase, r] : h.smtp_service.rules) {
        static const char* actions[] = {"reject", "tempfail", "disconnect", "stall"};
        rules[to_string(phase)] = {{"action", actions[static_cast<int>(r.what)]}, {"code", r.code}, {"text", r.text}};
    }
    o["smtp_service"] = {{"service", h.smtp_service.running ? "running" : "stopped"},
                         {"firewall", h.smtp_service.firewalled ? "blocked" : "open"},
                         {"rules", std::move(rules)},
                         {"rate_limit_per_minute", h.smtp_service.rate_limit_per_minute},
                         {"bounces_bounces", h.smtp_service.bounces_bounces}};
    if (h.smtp) o["smtp"] = smtp_json(*h.smtp);
    if (h.exchange) o["exchange"] = exchange_json(*h.exchange);
    return o;
}

// --- request helpers -------------------------------------------------------

struct body_error {
    std::string message;
};

json::object parse_body(const api_request& r) {
    if (r.body.empty()) return {};
    boost::system::error_code ec;
    auto v = json::parse(r.body, ec);
    if (ec) throw body_error{"the body is not JSON: " + ec.message()};
    if (!v.is_object()) throw body_error{"the body must be a JSON object"};
    return v.as_object();
}

std::string want_string(const json::value& v, std::string_view key) {
    if (!v.is_string()) throw body_error{"`" + std::string(key) + "` must be a string"};
    return std::string(v.as_string());
}

std::vector<std::string> want_strings(const json::value& v, std::string_view key) {
    if (!v.is_array()) throw body_error{"`" + std::string(key) + "` must be an array of strings"};
    std::vector<std::string> out;
    for (auto& x : v.as_array()) out.push_back(want_string(x, key));
    return out;
}

ipv4 want_address(const json::value& v, std::string_view key) {
    auto s = want_string(v, key);
    auto a = support::parse_ipv4(s);
    if (!a) throw body_error{"`" + std::string(key) + "`: `" + s + "` is not an IPv4 address"};
    return *a;
}

bool want_bool(const json::value& v, std::string_view key) {
    if (!v.is_bool()) throw body_error{"`" + std::string(key) + "` must be true or false"};
    return v.as_bool();
}

std::int64_t want_int(const json::value& v, std::string_view key, std::int64_t lo, std::int64_t hi) {
    if (!v.is_int64() && !v.is_uint64()) throw body_error{"`" + std::string(key) + "` must be an integer"};
    auto i = v.is_int64() ? v.as_int64() : static_cast<std::int64_t>(v.as_uint64());
    if (i < lo || i > hi)
        throw body_error{"`" + std::string(key) + "` must be between " + std::to_string(lo) + " and " + std::to_string(hi)};
    return i;
}

bool want_running(const json::value& v, std::string_view key) {
    auto s = want_string(v, key);
    if (s != "running" && s != "stopped") throw body_error{"`" + std::string(key) + "` must be \"running\" or \"stopped\""};
    return s == "running";
}

std::uint64_t want_size(const json::value& v, std::string_view key) {
    if (v.is_int64() && v.as_int64() >= 0) return static_cast<std::uint64_t>(v.as_int64());
    auto s = want_string(v, key);
    auto n = support::parse_size(s);
    if (!n) throw body_error{"`" + std::string(key) + "`: `" + s + "` is not a size such as \"10MB\""};
    return *n;
}

duration want_duration(const json::value& v, std::string_view key) {
    auto s = want_string(v, key);
    auto d = support::parse_duration(s);
    if (!d) throw body_error{"`" + std::string(key) + "`: `" + s + "` is not a duration such as \"5m\""};
    return *d;
}

void unknown_keys(const json::object& o, std::initializer_list<std::string_view> known, std::string_view where) {
    std::vector<std::string_view> k(known);
    for (auto& [key, v] : o)
        if (std::find(k.begin(), k.end(), key) == k.end()) {
            std::string msg = "unknown field `" + std::string(key) + "` in " + std::string(where);
            if (auto s = support::did_you_mean(key, k)) msg += " — did you mean `" + *s + "`?";
            throw body_error{msg};
        }
}

// Applies a PATCH body to one host of a configuration copy.
void patch_host(host_config& h, const json::object& body) {
    unknown_keys(body,
                 {"address", "gateway", "dns_servers", "tcpip_installed", "firewall", "services", "dns", "smtp",
                  "smtp_service", "exchange"},
                 "a host");
    if (auto* v = body.if_contains("address")) h.address = want_address(*v, "address");
    if (auto* v = body.if_contains("gateway")) {
        if (v->is_null()) h.gateway.reset();
        else h.gateway = want_address(*v, "gateway");
    }
    if (auto* v = body.if_contains("dns_servers")) {
        if (!v->is_array()) throw body_error{"`dns_servers` must be an array of addresses"};
        h.dns_servers.clear();
        for (auto& x : v->as_array()) h.dns_servers.push_back(want_address(x, "dns_servers"));
    }
    if (auto* v = body.if_contains("tcpip_installed")) h.tcpip_installed = want_bool(*v, "tcpip_installed");
    if (auto* v = body.if_contains("firewall")) {
        if (!v->is_object()) throw body_error{"`firewall` must be an object such as {\"smtp\": \"open\"}"};
        unknown_keys(v->as_object(), {"smtp"}, "`firewall`");
        if (auto* s = v->as_object().if_contains("smtp")) {
            auto state = want_string(*s, "firewall.smtp");
            if (state != "open" && state != "blocked") throw body_error{"`firewall.smtp` must be \"open\" or \"blocked\""};
            h.smtp_service.firewalled = state == "blocked";
        }
    }
    if (auto* v = body.if_contains("services")) {
        if (!v->is_object()) throw body_error{"`services` must be an object such as {\"dns\": \"running\"}"};
        unknown_keys(v->as_object(), {"dns", "smtp"}, "`services`");
        if (auto* s = v->as_object().if_contains("dns")) h.dns.running = want_running(*s, "services.dns");
        if (auto* s = v->as_object().if_contains("smtp")) h.smtp_service.running = want_running(*s, "services.smtp");
    }
    if (auto* v = body.if_contains("dns")) {
        if (!v->is_object()) throw body_error{"`dns` must be an object"};
        auto& o = v->as_object();
        unknown_keys(o, {"service", "servfail", "delay", "truncated"}, "`dns`");
        if (auto* s = o.if_contains("service")) h.dns.running = want_running(*s, "dns.service");
        if (auto* s = o.if_contains("servfail")) {
            if (s->is_null()) h.dns.servfail.reset();
            else h.dns.servfail = want_strings(*s, "dns.servfail");
        }
        if (auto* s = o.if_contains("delay")) h.dns.delay = want_duration(*s, "dns.delay");
        if (auto* s = o.if_contains("truncated")) h.dns.truncated = want_bool(*s, "dns.truncated");
    }
    if (auto* v = body.if_contains("smtp_service")) {
        if (!v->is_object()) throw body_error{"`smtp_service` must be an object"};
        auto& o = v->as_object();
        unknown_keys(o, {"service", "firewall", "rules", "rate_limit_per_minute", "bounces_bounces"}, "`smtp_service`");
        if (auto* s = o.if_contains("service")) h.smtp_service.running = want_running(*s, "smtp_service.service");
        if (auto* s = o.if_contains("firewall")) {
            auto state = want_string(*s, "smtp_service.firewall");
            if (state != "open" && state != "blocked") throw body_error{"`smtp_service.firewall` must be open or blocked"};
            h.smtp_service.firewalled = state == "blocked";
        }
        if (auto* s = o.if_contains("rules")) {
            // Only clearing is offered: rules come from faults, and fixing one means removing it.
            if (!s->is_object() || !s->as_object().empty())
                throw body_error{"`smtp_service.rules` can only be set to {} (no policy rules)"};
            h.smtp_service.rules.clear();
        }
        if (auto* s = o.if_contains("rate_limit_per_minute"))
            h.smtp_service.rate_limit_per_minute = static_cast<int>(want_int(*s, "rate_limit_per_minute", 0, 1000000));
        if (auto* s = o.if_contains("bounces_bounces")) h.smtp_service.bounces_bounces = want_bool(*s, "bounces_bounces");
    }
    if (auto* v = body.if_contains("smtp")) {
        if (!h.smtp) throw body_error{"host " + h.name + " has no [host.smtp]"};
        if (!v->is_object()) throw body_error{"`smtp` must be an object"};
        auto& o = v->as_object();
        auto& s = *h.smtp;
        unknown_keys(o,
                     {"local_domains", "mailboxes", "relay_domains", "routes", "smart_host", "max_message_size",
                      "max_recipients", "max_hops", "bounce_after"},
                     "`smtp`");
        if (auto* x = o.if_contains("local_domains")) s.local_domains = want_strings(*x, "local_domains");
        if (auto* x = o.if_contains("mailboxes")) s.mailboxes = want_strings(*x, "mailboxes");
        if (auto* x = o.if_contains("relay_domains")) s.relay_domains = want_strings(*x, "relay_domains");
        if (auto* x = o.if_contains("routes")) {
            if (!x->is_array()) throw body_error{"`routes` must be an array of {domain, next_hop}"};
            s.routes.clear();
            for (auto& r : x->as_array()) {
                if (!r.is_object()) throw body_error{"each route must be {\"domain\": ..., \"next_hop\": ...}"};
                auto& ro = r.as_object();
                unknown_keys(ro, {"domain", "next_hop"}, "a route");
                if (!ro.contains("domain") || !ro.contains("next_hop")) throw body_error{"a route needs domain and next_hop"};
                s.routes.push_back({want_string(ro.at("domain"), "domain"), want_string(ro.at("next_hop"), "next_hop")});
            }
        }
        if (auto* x = o.if_contains("smart_host")) s.smart_host = want_string(*x, "smart_host");
        if (auto* x = o.if_contains("max_message_size")) s.max_message_size = want_size(*x, "max_message_size");
        if (auto* x = o.if_contains("max_recipients")) s.max_recipients = static_cast<int>(want_int(*x, "max_recipients", 1, 100000));
        if (auto* x = o.if_contains("max_hops")) s.max_hops = static_cast<int>(want_int(*x, "max_hops", 1, 1000));
        if (auto* x = o.if_contains("bounce_after")) s.bounce_after = want_duration(*x, "bounce_after");
    }
    if (auto* v = body.if_contains("exchange")) {
        if (!h.exchange) throw body_error{"host " + h.name + " has no [host.exchange]"};
        if (!v->is_object()) throw body_error{"`exchange` must be an object"};
        auto& o = v->as_object();
        auto& e = *h.exchange;
        unknown_keys(o, {"mta", "store", "imc", "mailboxes", "connectors"}, "`exchange`");
        if (auto* x = o.if_contains("mta")) e.mta_running = want_running(*x, "mta");
        if (auto* x = o.if_contains("store")) e.store_running = want_running(*x, "store");
        if (auto* x = o.if_contains("imc")) {
            if (!x->is_object()) throw body_error{"`imc` must be an object"};
            auto& io = x->as_object();
            auto& i = e.imc;
            unknown_keys(io,
                         {"installed", "service", "transfer_mode", "address_space", "cost", "email_domains",
                          "smart_host", "resolver_search_list", "max_message_size", "max_recipients", "protocol_log",
                          "start_blocker"},
                         "`imc`");
            if (auto* y = io.if_contains("installed")) i.installed = want_bool(*y, "installed");
            if (auto* y = io.if_contains("service")) i.running = want_running(*y, "service");
            if (auto* y = io.if_contains("transfer_mode")) {
                auto m = parse_transfer_mode(want_string(*y, "transfer_mode"));
                if (!m) throw body_error{"`transfer_mode` must be none, inbound, outbound or inbound_outbound"};
                i.mode = *m;
            }
            if (auto* y = io.if_contains("address_space")) i.address_space = want_strings(*y, "address_space");
            if (auto* y = io.if_contains("cost")) i.cost = static_cast<int>(want_int(*y, "cost", 1, 100));
            if (auto* y = io.if_contains("email_domains")) {
                if (!y->is_array()) throw body_error{"`email_domains` must be an array of {domain, host}"};
                i.email_domains.clear();
                for (auto& d : y->as_array()) {
                    if (!d.is_object() || !d.as_object().contains("domain") || !d.as_object().contains("host"))
                        throw body_error{"each Email Domain entry needs domain and host"};
                    i.email_domains.push_back({want_string(d.as_object().at("domain"), "domain"),
                                               want_string(d.as_object().at("host"), "host")});
                }
            }
            if (auto* y = io.if_contains("smart_host")) i.smart_host = want_string(*y, "smart_host");
            if (auto* y = io.if_contains("resolver_search_list"))
                i.resolver_search_list = want_strings(*y, "resolver_search_list");
            if (auto* y = io.if_contains("max_message_size")) i.max_message_size = want_size(*y, "max_message_size");
            if (auto* y = io.if_contains("max_recipients"))
                i.max_recipients = static_cast<int>(want_int(*y, "max_recipients", 0, 100000));
            if (auto* y = io.if_contains("protocol_log")) i.protocol_log = want_string(*y, "protocol_log");
            if (auto* y = io.if_contains("start_blocker")) i.start_blocker = want_string(*y, "start_blocker");
        }
        if (auto* x = o.if_contains("mailboxes")) {
            if (!x->is_array()) throw body_error{"`mailboxes` must be an array of {alias, display_name, smtp}"};
            std::vector<exchange_mailbox> boxes;
            for (auto& m : x->as_array()) {
                if (!m.is_object() || !m.as_object().contains("alias")) throw body_error{"each mailbox needs an alias"};
                auto& mo = m.as_object();
                exchange_mailbox b;
                b.alias = want_string(mo.at("alias"), "alias");
                b.display_name = mo.contains("display_name") ? want_string(mo.at("display_name"), "display_name") : b.alias;
                if (mo.contains("smtp")) b.smtp = want_strings(mo.at("smtp"), "smtp");
                boxes.push_back(std::move(b));
            }
            e.mailboxes = std::move(boxes);
        }
        if (auto* x = o.if_contains("connectors")) {
            if (!x->is_array()) throw body_error{"`connectors` must be an array of {name, address_space, cost}"};
            std::vector<exchange_connector> list;
            for (auto& c : x->as_array()) {
                if (!c.is_object() || !c.as_object().contains("name")) throw body_error{"each connector needs a name"};
                auto& co = c.as_object();
                exchange_connector k;
                k.name = want_string(co.at("name"), "name");
                if (co.contains("address_space")) k.address_space = want_strings(co.at("address_space"), "address_space");
                if (co.contains("cost")) k.cost = static_cast<int>(want_int(co.at("cost"), "cost", 1, 100));
                list.push_back(std::move(k));
            }
            e.connectors = std::move(list);
        }
    }
}

// A handler that turns body_error into 400.
http_handler guarded(std::function<api_response(const api_request&)> fn) {
    return [fn = std::move(fn)](const api_request& r) {
        try {
            return fn(r);
        } catch (const body_error& e) {
            return api_error(400, e.message);
        }
    };
}

std::vector<zone_config*> zones_named(configuration& c, const std::string& origin, const api_request& r) {
    std::vector<zone_config*> out;
    auto key = fake_dns::canonical_name(origin);
    auto server = r.query.count("server") ? r.query.at("server") : std::string{};
    for (auto& z : c.zones)
        if (z.origin == key && (server.empty() || support::iequals(z.server, server))) out.push_back(&z);
    return out;
}

std::vector<fake_dns::record> parse_records(const std::string& text, const std::string& origin) {
    auto parsed = fake_dns::parse_zone_text(text, origin);
    if (!parsed.errors.empty()) {
        auto& e = parsed.errors.front();
        throw body_error{"line " + std::to_string(e.line) + ", column " + std::to_string(e.column) + ": " + e.message};
    }
    return parsed.records;
}

// A record given as master-file text or as {name, type, ttl, data}.
std::vector<fake_dns::record> records_from(const json::value& v, const std::string& origin) {
    if (v.is_string()) return parse_records(std::string(v.as_string()), origin);
    if (v.is_object()) {
        auto& o = v.as_object();
        unknown_keys(o, {"name", "type", "ttl", "data"}, "a record");
        if (!o.contains("name") || !o.contains("type") || !o.contains("data"))
            throw body_error{"a record needs name, type and data (ttl is optional)"};
        std::string line = want_string(o.at("name"), "name");
        if (o.contains("ttl")) line += " " + std::to_string(want_int(o.at("ttl"), "ttl", 0, 2147483647));
        line += " IN " + want_string(o.at("type"), "type") + " " + want_string(o.at("data"), "data");
        return parse_records(line, origin);
    }
    if (v.is_array()) {
        std::vector<fake_dns::record> out;
        for (auto& x : v.as_array()) {
            auto more = records_from(x, origin);
            out.insert(out.end(), more.begin(), more.end());
        }
        return out;
    }
    throw body_error{"records must be master-file text, {name, type, ttl, data}, or an array of those"};
}

fault fault_from(const json::object& body) {
    fault f;
    if (!body.contains("kind") || !body.at("kind").is_string()) throw body_error{"a fault needs `kind`"};
    f.kind = std::string(body.at("kind").as_string());
    auto* kind = find_fault_kind(f.kind);
    for (auto& [key, v] : body) {
        std::string k(key);
        if (k == "kind") continue;
        if (k == "id") {
            f.id = want_string(v, "id");
        } else if (k == "after") {
            f.timing.after = want_duration(v, k);
        } else if (k == "until") {
            f.timing.until = want_duration(v, k);
        } else if (k == "flap") {
            if (!v.is_object() || !v.as_object().contains("on") || !v.as_object().contains("off"))
                throw body_error{"`flap` must be {\"on\": \"1m\", \"off\": \"30s\"}"};
            f.timing.flap = std::pair{want_duration(v.as_object().at("on"), "flap.on"),
                                      want_duration(v.as_object().at("off"), "flap.off")};
        } else if (k == "first") {
            f.timing.first = static_cast<int>(want_int(v, k, 1, 1000000));
        } else if (k == "odds") {
            if (!v.is_number()) throw body_error{"`odds` must be a number"};
            auto o = v.to_number<double>();
            if (!(o > 0 && o <= 1)) throw body_error{"`odds` must be above 0 and at most 1"};
            f.timing.odds = o;
        } else {
            if (kind && std::none_of(kind->params.begin(), kind->params.end(), [&](auto& p) { return p.name == k; })) {
                std::vector<std::string_view> names;
                for (auto& p : kind->params) names.push_back(p.name);
                std::string msg = "unknown parameter `" + k + "` for " + std::string(kind->kind);
                if (auto s = support::did_you_mean(k, names)) msg += " — did you mean `" + *s + "`?";
                throw body_error{msg};
            }
            if (v.is_string()) f.params[k] = std::string(v.as_string());
            else if (v.is_int64()) f.params[k] = v.as_int64();
            else if (v.is_uint64()) f.params[k] = static_cast<std::int64_t>(v.as_uint64());
            else if (v.is_double()) f.params[k] = v.as_double();
            else if (v.is_bool()) f.params[k] = v.as_bool();
            else if (v.is_array()) f.params[k] = want_strings(v, k);
            else throw body_error{"`" + k + "` must be a string, a number, true/false or an array of strings"};
        }
    }
    return f;
}

json::object log_json(const log_entry& e) {
    return {{"seq", e.seq}, {"time", seconds(e.sim)}, {"wall_ms", e.wall_ms}, {"kind", e.kind},
            {"host", e.host}, {"text", e.describe()}};
}

std::string iso_time(std::int64_t ms) {
    std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

json::object clock_json(const lab& l) {
    auto now = l.now();
    return {{"now", seconds(now)},
            {"speed", l.speed()},
            {"date", iso_time(l.started_wall_ms() + now.count())},
            {"text", support::format_duration(now)}};
}

json::object lab_object(const lab& l, const api_identity& id) {
    json::array hosts;
    for (auto& h : l.live().hosts) hosts.push_back(host_summary(l, h));
    return {{"scenario", l.definition().meta.id},
            {"title", l.definition().meta.title},
            {"prefix", l.prefix()},
            {"api", id.url},
            {"token", id.token},
            {"vantage", l.vantage()},
            {"ports", {{"dns", l.dns_port()}, {"smtp", l.smtp_port()}}},
            {"hosts", std::move(hosts)}};
}

json::object message_summary(const stored_message& m) {
    return {{"id", m.id},       {"folder", m.folder}, {"from", m.from},           {"to", strings(m.to)},
            {"subject", m.subject}, {"date", m.date},  {"size", m.data.size()}, {"received", seconds(m.received)}};
}

const char* state_text(fake_smtp::queued_recipient::state s) {
    switch (s) {
        case fake_smtp::queued_recipient::state::pending: return "queued";
        case fake_smtp::queued_recipient::state::delivered: return "delivered";
        case fake_smtp::queued_recipient::state::failed: return "failed";
        case fake_smtp::queued_recipient::state::expired: return "expired";
    }
    return "queued";
}

// Finds a mailbox by address across the lab's mail agents.
const std::vector<stored_message>* find_mailbox(const lab& l, const std::string& address, std::string& host) {
    for (auto& agent : l.mail_agents()) {
        auto key = agent->primary_address(support::to_lower(address));
        auto& boxes = agent->mailboxes();
        if (auto it = boxes.find(key); it != boxes.end()) {
            host = agent->host();
            return &it->second;
        }
        auto* h = l.live().find_host(agent->host());
        bool configured = h && h->smtp &&
                          std::find(h->smtp->mailboxes.begin(), h->smtp->mailboxes.end(), key) != h->smtp->mailboxes.end();
        if (h && h->exchange)
            for (auto& m : h->exchange->mailboxes)
                for (auto& a : m.smtp)
                    if (support::iequals(a, key)) configured = true;
        if (configured) {
            host = agent->host();
            static const std::vector<stored_message> empty;
            return &empty;
        }
    }
    return nullptr;
}

}  // namespace

std::string ready_json(const lab& l, const api_identity& id) { return json::serialize(lab_object(l, id)); }

std::string page_with_data(std::string_view html, const json::value& data) {
    auto text = json::serialize(data);
    // Inside <script>, a "</" in a string would end the element early.
    for (auto at = text.find('<'); at != std::string::npos; at = text.find('<', at)) text.replace(at, 1, "\\u003c");
    std::string out(html);
    const std::string_view marker = "@@MAILSIM_CATALOGUE@@";
    if (auto at = out.find(marker); at != std::string::npos) out.replace(at, marker.size(), text);
    return out;
}

// The diagnosis form lists the fault catalogue, put into the page once.
api_response trainee_page() {
    static const std::string page = [] {
        json::array kinds;
        for (auto& k : catalogue())
            kinds.push_back({{"kind", std::string(k.kind)},
                             {"target", std::string(k.params.front().name)},
                             {"step", std::string(k.step)},
                             {"summary", std::string(k.summary)}});
        return page_with_data(trainer::trainee_page, kinds);
    }();
    return api_response{200, "text/html; charset=utf-8", page};
}

void add_lab_routes(api_router& router, lab& l, std::function<api_identity()> identity, trainer_service* trainer,
                    lab_routes_options opts) {
    const std::string base = "/api/v1";
    router.add("GET", base + "/lab", [&l, identity](const api_request&) {
        auto o = lab_object(l, identity());
        o["clock"] = clock_json(l);
        return ok(o);
    });

    // The network as it was designed (the answer configuration): what a
    // diagram on the server-room wall shows. Faults never appear in it.
    router.add("GET", base + "/topology", [&l](const api_request&) {
        auto& a = l.answer();
        json::array segments, routers, links, hosts;
        for (auto& s : a.segments) segments.push_back({{"name", s.name}, {"cidr", s.cidr.to_string()}});
        for (auto& r : a.routers) routers.push_back({{"name", r.name}, {"addresses", addresses(r.addresses)}});
        for (auto& k : a.links) links.push_back(json::object{{"between", json::array{json::string(k.a), json::string(k.b)}}});
        for (auto& h : a.hosts) {
            json::array roles;
            for (auto r : h.roles) roles.push_back(json::string(to_string(r)));
            auto* seg = a.segment_of(h.address);
            hosts.push_back({{"name", h.name}, {"fqdn", h.fqdn}, {"address", format_ipv4(h.address)}, {"roles", roles},
                             {"segment", seg ? seg->name : std::string()}});
        }
        return ok(json::object{{"segments", segments}, {"routers", routers}, {"links", links}, {"hosts", hosts},
                               {"vantage", l.vantage()}});
    });
    router.add("GET", base + "/hosts", [&l](const api_request&) {
        json::array hosts;
        for (auto& h : l.live().hosts) hosts.push_back(host_detail(l, h));
        return ok(json::object{{"hosts", std::move(hosts)}});
    });
    router.add("GET", base + "/hosts/{name}", [&l](const api_request& r) {
        auto* h = l.live().find_host(r.params.at("name"));
        if (!h) return api_error(404, "no host called `" + r.params.at("name") + "`");
        return ok(host_detail(l, *h));
    });
    router.add("PATCH", base + "/hosts/{name}", guarded([&l](const api_request& r) {
        auto body = parse_body(r);
        auto name = r.params.at("name");
        if (!l.live().find_host(name)) return api_error(404, "no host called `" + name + "`");
        std::string error;
        auto err = l.change("API: PATCH host " + name + " " + r.body, [&](configuration& c) -> std::string {
            try {
                patch_host(*c.find_host(name), body);
            } catch (const body_error& e) {
                return e.message;
            }
            return {};
        });
        if (!err.empty()) return api_error(400, err);
        return ok(host_detail(l, *l.live().find_host(name)));
    }));

    router.add("GET", base + "/hosts/{name}/events", [&l](const api_request& r) {
        auto* h = l.live().find_host(r.params.at("name"));
        if (!h) return api_error(404, "no host called `" + r.params.at("name") + "`");
        json::array events;
        for (auto& e : l.event_log(h->name))
            events.push_back({{"number", e.number}, {"time", seconds(e.at)}, {"date", iso_time(e.wall_ms)},
                              {"id", e.record.id}, {"source", e.record.source}, {"type", e.record.type},
                              {"log", e.record.log}, {"text", e.record.text}});
        return ok(json::object{{"host", h->name}, {"events", std::move(events)}});
    });
    router.add("GET", base + "/hosts/{name}/services", [&l](const api_request& r) {
        auto* h = l.live().find_host(r.params.at("name"));
        if (!h) return api_error(404, "no host called `" + r.params.at("name") + "`");
        json::array list;
        for (auto& s : services_of(*h)) list.push_back({{"name", s.key}, {"display", s.display}, {"running", s.running}});
        return ok(json::object{{"host", h->name}, {"services", std::move(list)}});
    });
    router.add("POST", base + "/hosts/{name}/services/{service}", guarded([&l](const api_request& r) {
        auto body = parse_body(r);
        unknown_keys(body, {"state"}, "the body");
        if (!body.contains("state")) return api_error(400, "send {\"state\": \"running\" | \"stopped\"}");
        bool start = want_running(body.at("state"), "state");
        auto* h = l.live().find_host(r.params.at("name"));
        if (!h) return api_error(404, "no host called `" + r.params.at("name") + "`");
        auto result = l.control_service(h->name, r.params.at("service"), start);
        json::array events;
        for (auto& e : result.events) events.push_back({{"id", e.id}, {"source", e.source}, {"type", e.type}, {"text", e.text}});
        return ok(json::object{{"ok", result.ok}, {"output", result.output}, {"events", std::move(events)}},
                  result.ok ? 200 : 409);
    }));

    router.add("GET", base + "/routers", [&l](const api_request&) {
        json::array routers;
        for (auto& r : l.live().routers)
            routers.push_back({{"name", r.name}, {"addresses", addresses(r.addresses)}, {"ip_routing", r.ip_routing}});
        json::array links;
        for (auto& k : l.live().links) links.push_back({{"between", json::array{json::value(k.a), json::value(k.b)}}, {"up", k.up}});
        return ok(json::object{{"routers", std::move(routers)}, {"links", std::move(links)}});
    });
    router.add("PATCH", base + "/routers/{name}", guarded([&l](const api_request& r) {
        auto body = parse_body(r);
        unknown_keys(body, {"ip_routing"}, "a router");
        auto name = r.params.at("name");
        if (!l.live().find_router(name)) return api_error(404, "no router called `" + name + "`");
        if (!body.contains("ip_routing")) return api_error(400, "send {\"ip_routing\": true|false}");
        bool on = want_bool(body.at("ip_routing"), "ip_routing");
        l.change("API: router " + name + " IP routing " + (on ? "on" : "off"), [&](configuration& c) {
            c.find_router(name)->ip_routing = on;
            return std::string{};
        });
        return ok(json::object{{"name", name}, {"ip_routing", on}});
    }));
    router.add("PATCH", base + "/links", guarded([&l](const api_request& r) {
        auto body = parse_body(r);
        unknown_keys(body, {"between", "up"}, "a link");
        if (!body.contains("between") || !body.contains("up")) return api_error(400, "send {\"between\": [A, B], \"up\": true|false}");
        auto ends = want_strings(body.at("between"), "between");
        bool up = want_bool(body.at("up"), "up");
        if (ends.size() != 2 || !l.live().find_link(ends[0], ends[1]))
            return api_error(404, "no link joins those routers");
        l.change("API: link " + ends[0] + "-" + ends[1] + (up ? " up" : " down"), [&](configuration& c) {
            c.find_link(ends[0], ends[1])->up = up;
            return std::string{};
        });
        return ok(json::object{{"between", strings(ends)}, {"up", up}});
    }));

    router.add("GET", base + "/zones", [&l](const api_request&) {
        json::array zones;
        for (auto& z : l.live().zones) zones.push_back(zone_json(z, false));
        return ok(json::object{{"zones", std::move(zones)}});
    });
    router.add("GET", base + "/zones/{origin}", [&l](const api_request& r) {
        auto list = zones_named(const_cast<configuration&>(l.live()), r.params.at("origin"), r);
        if (list.empty()) return api_error(404, "no zone `" + r.params.at("origin") + "`");
        auto o = zone_json(*list.front(), true);
        if (list.size() > 1) {
            json::array views;
            for (auto* z : list) views.push_back(zone_json(*z, true));
            o["views"] = std::move(views);
        }
        return ok(o);
    });
    auto edit_zone = [&l](const api_request& r, const std::string& what,
                          const std::function<void(zone_config&)>& fn) -> api_response {
        auto origin = r.params.at("origin");
        if (zones_named(const_cast<configuration&>(l.live()), origin, r).empty())
            return api_error(404, "no zone `" + origin + "`");
        auto err = l.change("API: zone " + origin + ": " + what, [&](configuration& c) -> std::string {
            for (auto* z : zones_named(c, origin, r)) {
                fn(*z);
                // A zone without its SOA cannot answer NXDOMAIN or NODATA properly.
                auto soas = std::count_if(z->records.begin(), z->records.end(),
                                          [&](auto& x) { return x.type == 6 && x.owner == z->origin; });
                if (soas != 1) return "zone `" + z->origin + "` must keep exactly one SOA record at its apex";
            }
            return {};
        });
        if (!err.empty()) return api_error(400, err);
        return ok(zone_json(*zones_named(const_cast<configuration&>(l.live()), origin, r).front(), true));
    };
    router.add("PUT", base + "/zones/{origin}/records", guarded([edit_zone](const api_request& r) {
        auto body = parse_body(r);
        unknown_keys(body, {"records"}, "the body");
        if (!body.contains("records")) return api_error(400, "send {\"records\": \"master-file text\" or [...]}");
        auto origin = fake_dns::canonical_name(r.params.at("origin"));
        auto records = records_from(body.at("records"), origin);
        return edit_zone(r, "records replaced", [&](zone_config& z) { z.records = records; });
    }));
    router.add("POST", base + "/zones/{origin}/records", guarded([edit_zone](const api_request& r) {
        auto body = parse_body(r);
        json::value spec = body.contains("record") ? body.at("record") : json::value(body);
        auto origin = fake_dns::canonical_name(r.params.at("origin"));
        auto records = records_from(spec, origin);
        std::string what = "added";
        for (auto& x : records) what += " " + fake_dns::to_text(x);
        auto resp = edit_zone(r, what, [&](zone_config& z) {
            for (auto& x : records)
                if (std::find(z.records.begin(), z.records.end(), x) == z.records.end()) z.records.push_back(x);
        });
        if (resp.status == 200) resp.status = 201;
        return resp;
    }));
    router.add("DELETE", base + "/zones/{origin}/records", guarded([edit_zone](const api_request& r) {
        auto origin = fake_dns::canonical_name(r.params.at("origin"));
        if (!r.query.count("name")) return api_error(400, "say which records: ?name=NAME[&type=A][&data=...]");
        auto name = fake_dns::canonical_name(r.query.at("name"));
        if (name.find('.') == std::string::npos || !fake_dns::in_zone(name, origin))
            name = name == "@" ? origin : name + "." + origin;
        std::optional<std::uint16_t> type;
        if (r.query.count("type")) {
            type = fake_dns::parse_type(r.query.at("type"));
            if (!type) return api_error(400, "unknown record type `" + r.query.at("type") + "`");
        }
        auto data = r.query.count("data") ? r.query.at("data") : std::string{};
        std::size_t removed = 0;
        auto resp = edit_zone(r, "deleted " + name, [&](zone_config& z) {
            removed += std::erase_if(z.records, [&](const fake_dns::record& x) {
                return x.owner == name && (!type || x.type == *type) &&
                       (data.empty() || support::iequals(fake_dns::rdata_to_text(x), data));
            });
        });
        if (resp.status == 200 && removed == 0) return api_error(404, "no matching record in `" + origin + "`");
        return resp;
    }));

    if (!opts.faults) {
        // Class mode: the answer stays with the instructor.
        auto refuse = [](const api_request&) {
            return api_error(403, "in class mode only the instructor sees and changes faults",
                             "find the fault with the tools and the console, fix it, then verify");
        };
        router.add("GET", base + "/faults", refuse);
        router.add("POST", base + "/faults", refuse);
        router.add("DELETE", base + "/faults/{id}", refuse);
    } else {
        router.add("GET", base + "/faults", [&l](const api_request& r) {
            bool all = r.query.count("all") && r.query.at("all") != "0";
            json::array faults;
            for (auto& f : l.faults(all)) faults.push_back(fault_json(f));
            return ok(json::object{{"faults", std::move(faults)}});
        });
        router.add("POST", base + "/faults", guarded([&l](const api_request& r) {
            auto f = fault_from(parse_body(r));
            std::string error;
            auto id = l.inject(std::move(f), error);
            if (!error.empty()) return api_error(400, error);
            for (auto& s : l.faults(true))
                if (s.f.id == id) {
                    auto o = fault_json(s);
                    return ok(o, 201);
                }
            return ok(json::object{{"id", id}}, 201);
        }));
        router.add("DELETE", base + "/faults/{id}", [&l](const api_request& r) {
            if (!l.clear_fault(r.params.at("id"))) return api_error(404, "no fault `" + r.params.at("id") + "`");
            return ok(json::object{{"id", r.params.at("id")}, {"state", "cleared"}});
        });
    }

    router.add("GET", base + "/mailboxes", [&l](const api_request&) {
        json::array boxes;
        for (auto& agent : l.mail_agents()) {
            auto* h = l.live().find_host(agent->host());
            std::set<std::string> seen;
            auto add = [&](const std::string& address, std::size_t count) {
                if (!seen.insert(address).second) return;
                boxes.push_back({{"address", address}, {"host", agent->host()}, {"messages", count}});
            };
            for (auto& [address, list] : agent->mailboxes()) add(address, list.size());
            if (h && h->smtp)
                for (auto& address : h->smtp->mailboxes) add(address, 0);
            if (h && h->exchange)
                for (auto& m : h->exchange->mailboxes)
                    if (!m.smtp.empty()) add(support::to_lower(m.smtp.front()), 0);
        }
        return ok(json::object{{"mailboxes", std::move(boxes)}});
    });
    router.add("GET", base + "/mailboxes/{address}/messages", [&l](const api_request& r) {
        std::string host;
        auto* list = find_mailbox(l, r.params.at("address"), host);
        if (!list) return api_error(404, "no mailbox `" + r.params.at("address") + "`");
        auto folder = r.query.count("folder") ? support::to_lower(r.query.at("folder")) : std::string{};
        json::array messages;
        for (auto& m : *list)
            if (folder.empty() || m.folder == folder) messages.push_back(message_summary(m));
        return ok(json::object{{"address", support::to_lower(r.params.at("address"))}, {"host", host},
                               {"messages", std::move(messages)}});
    });
    router.add("GET", base + "/mailboxes/{address}/messages/{id}", [&l](const api_request& r) {
        std::string host;
        auto* list = find_mailbox(l, r.params.at("address"), host);
        if (!list) return api_error(404, "no mailbox `" + r.params.at("address") + "`");
        for (auto& m : *list) {
            if (m.id != r.params.at("id")) continue;
            if (r.query.count("raw") && r.query.at("raw") != "0") return api_response{200, "message/rfc822", m.data};
            auto o = message_summary(m);
            auto headers = fake_smtp::header_block(m.data);
            o["headers"] = std::string(headers);
            o["body"] = m.data.substr(headers.size());
            return ok(o);
        }
        return api_error(404, "no message `" + r.params.at("id") + "` in `" + r.params.at("address") + "`");
    });
    router.add("GET", base + "/queues", [&l](const api_request&) {
        json::array queues;
        for (auto& agent : l.mail_agents()) {
            json::array messages;
            for (auto* e : agent->queue().entries()) {
                json::array rcpts;
                for (auto& rc : e->recipients)
                    rcpts.push_back({{"address", rc.address}, {"state", state_text(rc.what)}, {"last_error", rc.last_error},
                                     {"status", rc.status}, {"remote", rc.remote}});
                messages.push_back({{"id", e->id},
                                    {"from", e->mail_from},
                                    {"subject", fake_smtp::header_value(e->data, "Subject")},
                                    {"size", e->data.size()},
                                    {"arrived", seconds(e->arrived)},
                                    {"attempts", e->attempts},
                                    {"next_attempt", seconds(e->next_attempt)},
                                    {"state", e->in_flight ? "sending" : "waiting"},
                                    {"last_error", e->last_error},
                                    {"recipients", std::move(rcpts)}});
            }
            json::object q{{"host", agent->host()}, {"messages", std::move(messages)}};
            if (agent->exchange()) {
                q["held"] = !agent->can_send();  // the IMC does not send now
                json::object connectors;
                for (auto& [name, list] : agent->connector_queues()) {
                    json::array waiting;
                    for (auto& m : list) waiting.push_back(message_summary(m));
                    connectors[name] = std::move(waiting);
                }
                q["connectors"] = std::move(connectors);
            }
            queues.push_back(std::move(q));
        }
        return ok(json::object{{"queues", std::move(queues)}});
    });
    router.add("POST", base + "/messages", guarded([&l](const api_request& r) {
        auto body = parse_body(r);
        unknown_keys(body, {"from", "to", "subject", "body", "size", "via", "headers"}, "a message");
        if (!body.contains("from") || !body.contains("to")) return api_error(400, "a message needs `from` and `to`");
        auto from = want_string(body.at("from"), "from");
        auto to = body.at("to").is_string() ? std::vector<std::string>{want_string(body.at("to"), "to")}
                                            : want_strings(body.at("to"), "to");
        if (to.empty()) return api_error(400, "`to` needs at least one address");
        if (!from.empty() && !fake_smtp::valid_mailbox(from)) return api_error(400, "`from` is not an e-mail address");
        for (auto& t : to)
            if (!fake_smtp::valid_mailbox(t)) return api_error(400, "`" + t + "` is not an e-mail address");
        // The sending host: `via`, else the host whose local domain is the sender's.
        std::shared_ptr<mail_agent> agent;
        if (body.contains("via")) {
            auto via = want_string(body.at("via"), "via");
            if (!l.live().find_host(via)) return api_error(404, "no host called `" + via + "`");
            agent = l.mail(via);
            if (!agent) return api_error(400, "host `" + via + "` has no mail service to submit through");
        } else {
            auto domain = fake_smtp::domain_of(from);
            for (auto& a : l.mail_agents()) {
                auto* h = l.live().find_host(a->host());
                if (h && h->smtp && std::find(h->smtp->local_domains.begin(), h->smtp->local_domains.end(), domain) !=
                                        h->smtp->local_domains.end())
                    agent = a;
                if (h && h->exchange)
                    for (auto& m : h->exchange->mailboxes)
                        for (auto& addr : m.smtp)
                            if (support::iequals(addr, from)) agent = a;
            }
            if (!agent) return api_error(400, "say `via`: no relay or mail store has the sender's domain as a local domain");
        }
        auto subject = body.contains("subject") ? want_string(body.at("subject"), "subject") : std::string("Test message");
        auto text = body.contains("body") ? want_string(body.at("body"), "body") : std::string("A test message from mailsim.");
        std::uint64_t size = 0;
        if (body.contains("size")) size = want_size(body.at("size"), "size");
        if (size > 64 * 1024 * 1024) return api_error(400, "`size` is limited to 64MB");
        auto data = compose_message(from, to, subject, text, size,
                                    fake_smtp::rfc5322_date(l.started_wall_ms() + l.now().count()),
                                    static_cast<long long>(l.log().last_seq()), agent->host());
        std::string error;
        // An Exchange user's message enters their Outbox; others are submitted to the host.
        bool exchange_user = agent->exchange();
        auto id = exchange_user ? agent->submit_user(from, to, data, error) : agent->submit(from, to, data, error);
        if (id.empty()) return api_error(exchange_user ? 400 : 500, "the message could not be submitted", error);
        return ok(json::object{{"id", id}, {"via", agent->host()}, {"size", data.size()}}, 201);
    }));

    // The console: one line at a time over HTTP, or a terminal over a WebSocket.
    router.add_async("POST", base + "/console", [&l, trainer](const api_request& r) -> boost::asio::awaitable<api_response> {
        json::object body;
        try {
            body = parse_body(r);
            unknown_keys(body, {"host", "line"}, "the body");
        } catch (const body_error& e) {
            co_return api_error(400, e.message);
        }
        if (!body.contains("line") || !body.at("line").is_string()) co_return api_error(400, "send {\"host\": ..., \"line\": ...}");
        std::string host = l.vantage();
        if (auto* h = body.if_contains("host")) {
            if (!h->is_string()) co_return api_error(400, "`host` must be a string");
            host = std::string(h->as_string());
        }
        auto* live_host = l.live().find_host(host);
        if (!live_host) co_return api_error(404, "no host called `" + host + "`");
        console_session session(l, live_host->name, trainer);
        std::string output;
        auto pending = session.run(std::string(body.at("line").as_string()), [&](const std::string& text) { output += text; });
        co_await std::move(pending);
        co_return ok(json::object{{"host", session.host()}, {"output", output}, {"prompt", session.prompt()}});
    });
    router.add_ws(base + "/console", [&l, trainer](ws_channel& ch, const api_request& r) -> boost::asio::awaitable<void> {
        using namespace boost::asio::experimental::awaitable_operators;
        std::string host = r.query.count("host") ? r.query.at("host") : l.vantage();
        auto* live_host = l.live().find_host(host);
        if (!live_host) {
            ch.send(json::serialize(json::object{{"error", "no host called `" + host + "`"}}));
            co_return;  // the channel sends what is queued and a Close frame
        }
        console_session session(l, live_host->name, trainer);
        // Lines from the peer, read by their own loop so that a telnet inside
        // the console can wait for the next line and for the remote host at once.
        std::deque<std::string> lines;
        bool closed = false;
        boost::asio::steady_timer signal(l.io(), boost::asio::steady_timer::time_point::max());
        auto reader = [&]() -> boost::asio::awaitable<void> {
            while (auto msg = co_await ch.receive()) {
                std::string line = *msg;
                if (!line.empty() && line.front() == '{') {
                    boost::system::error_code ec;
                    auto v = json::parse(line, ec);
                    if (!ec && v.is_object() && v.as_object().contains("line") && v.as_object().at("line").is_string())
                        line = std::string(v.as_object().at("line").as_string());
                }
                while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
                lines.push_back(std::move(line));
                signal.cancel();
            }
            closed = true;
            signal.cancel();
        };
        std::function<boost::asio::awaitable<std::optional<std::string>>()> next_line =
            [&]() -> boost::asio::awaitable<std::optional<std::string>> {
            while (lines.empty() && !closed) {
                signal.expires_at(boost::asio::steady_timer::time_point::max());
                co_await signal.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
            }
            if (lines.empty()) co_return std::nullopt;
            auto line = std::move(lines.front());
            lines.pop_front();
            co_return line;
        };
        auto send = [&](const std::string& text) { ch.send(json::serialize(json::object{{"output", text}})); };
        auto main = [&]() -> boost::asio::awaitable<void> {
            send("Microsoft(R) Windows NT(TM)\n(C) Copyright 1985-1996 Microsoft Corp.\n\nmailsim lab console on " +
                 session.host() + ". Type help for the commands.\n\n");
            ch.send(json::serialize(json::object{{"prompt", session.prompt()}}));
            while (!session.finished()) {
                auto line = co_await next_line();
                if (!line) break;
                auto pending = session.run_interactive(*line, send, next_line);
                co_await std::move(pending);
                if (session.finished()) break;
                ch.send(json::serialize(json::object{{"prompt", session.prompt()}}));
            }
            // `exit`: say goodbye properly while the reader still waits; the
            // channel's writer ends the connection after the Close frame.
            ch.close();
            while (!closed) {
                signal.expires_at(boost::asio::steady_timer::time_point::max());
                co_await signal.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
            }
        };
        co_await (reader() || main());
    });

    router.add("GET", base + "/clock", [&l](const api_request&) { return ok(clock_json(l)); });
    router.add("POST", base + "/clock/advance", guarded([&l](const api_request& r) {
        auto body = parse_body(r);
        unknown_keys(body, {"seconds"}, "the body");
        if (!body.contains("seconds") || !body.at("seconds").is_number())
            return api_error(400, "send {\"seconds\": N}");
        auto s = body.at("seconds").to_number<double>();
        if (!(s >= 0 && s <= 366.0 * 86400)) return api_error(400, "`seconds` must be between 0 and a year");
        l.advance(duration{static_cast<std::int64_t>(s * 1000)});
        return ok(clock_json(l));
    }));

    router.add("GET", base + "/log", [&l](const api_request& r) {
        std::uint64_t since = 0;
        if (r.query.count("since")) {
            try {
                since = std::stoull(r.query.at("since"));
            } catch (...) {
                return api_error(400, "`since` must be a sequence number");
            }
        }
        json::array entries;
        for (auto& e : l.log().since(since, 5000)) entries.push_back(log_json(e));
        return ok(json::object{{"entries", std::move(entries)}, {"last", l.log().last_seq()}});
    });
    router.add_ws(base + "/events", [&l](ws_channel& ch, const api_request& r) -> boost::asio::awaitable<void> {
        std::uint64_t since = l.log().last_seq();
        if (r.query.count("since")) {
            try {
                since = std::stoull(r.query.at("since"));
            } catch (...) {
            }
        }
        for (auto& e : l.log().since(since, 5000)) ch.send(json::serialize(log_json(e)));
        auto id = l.log().subscribe([&ch](const log_entry& e) { ch.send(json::serialize(log_json(e))); });
        while (co_await ch.receive()) {
        }
        l.log().unsubscribe(id);
    });

    // The trainee page (trainer/web/trainee.html, embedded at build time). It
    // needs no token itself: it reads the token from its own ?token= and
    // calls the API with it.
    router.add("GET", "/", [](const api_request&) { return trainee_page(); });
}


namespace {

json::object report_json(const trainer::report& r) {
    json::array diagnoses, faults, checks, trail, reasons;
    for (auto& d : r.diagnoses)
        diagnoses.push_back({{"kind", d.kind}, {"target", d.target}, {"correct", d.correct}, {"cost", d.cost},
                             {"at", support::format_duration(d.at)}});
    for (auto& f : r.faults)
        faults.push_back({{"id", f.id}, {"kind", f.kind}, {"target", f.target}, {"diagnosed", f.diagnosed}, {"fixed", f.fixed}});
    for (auto& c : r.checks)
        checks.push_back({{"kind", c.check.kind}, {"description", trainer::describe(c.check)}, {"passed", c.passed}, {"got", c.got}});
    for (auto& e : r.trail) {
        json::object o{{"at", support::format_duration(e.at)}, {"source", e.source}, {"text", e.text}};
        if (e.wall_ms) o["wall_ms"] = e.wall_ms;
        trail.push_back(std::move(o));
    }
    for (auto& x : r.reasons) reasons.push_back(json::string(x));
    return {{"session", r.session}, {"trainee", r.trainee}, {"scenario", r.scenario}, {"state", r.state},
            {"elapsed", support::format_duration(r.elapsed)}, {"elapsed_seconds", r.elapsed.count() / 1000},
            {"time_limit", support::format_duration(r.time_limit)}, {"points", r.points}, {"hints_used", r.hints_used},
            {"hint_cost", r.hint_cost}, {"wrong_diagnoses", r.wrong_diagnoses}, {"wrong_cost", r.wrong_cost},
            {"score", r.score}, {"passed", r.passed}, {"reasons", reasons}, {"diagnoses", diagnoses}, {"faults", faults},
            {"checks", checks}, {"evidence", trail}};
}

}  // namespace

std::string trainer_report_json(const trainer::report& r) { return json::serialize(report_json(r)); }
json::object trainer_report_object(const trainer::report& r) { return report_json(r); }

json::object fault_status_object(const fault_status& s) { return fault_json(s); }

fault fault_from_body(const json::object& body, std::string& error) {
    try {
        error.clear();
        return fault_from(body);
    } catch (const body_error& e) {
        error = e.message;
        return {};
    }
}

void add_trainer_routes(api_router& router, lab& l, trainer_service& t) {
    const std::string base = "/api/v1/trainer";
    auto summary = [&l, &t](const trainer::session& s) {
        auto& def = l.definition();
        return json::object{{"id", s.id()},
                            {"trainee", s.trainee()},
                            {"scenario", def.meta.id},
                            {"title", def.meta.title},
                            {"briefing", def.meta.briefing},
                            {"time_limit", support::format_duration(s.config().time_limit)},
                            {"points", s.config().points},
                            {"hint_cost", s.config().hint_cost},
                            {"wrong_diagnosis_cost", s.config().wrong_diagnosis_cost},
                            {"hints_left", s.hints_left()},
                            {"score", s.score()},
                            {"report", report_json(t.report(s))}};
    };
    router.add("POST", base + "/sessions", guarded([&t, summary](const api_request& r) {
        auto body = parse_body(r);
        unknown_keys(body, {"trainee"}, "the body");
        std::string trainee = "trainee";
        if (auto* v = body.if_contains("trainee")) trainee = want_string(*v, "trainee");
        if (trainee.empty() || trainee.size() > 100) return api_error(400, "`trainee` must be 1 to 100 characters");
        return ok(summary(t.start(trainee)), 201);
    }));
    router.add("GET", base + "/sessions", [&t](const api_request&) {
        json::array list;
        for (auto& [id, s] : t.sessions())
            list.push_back({{"id", id}, {"trainee", s->trainee()}, {"state", t.report(*s).state}, {"score", s->score()}});
        return ok(json::object{{"sessions", list}});
    });
    router.add("GET", base + "/sessions/{id}", [&t, summary](const api_request& r) {
        auto* s = t.find(r.params.at("id"));
        if (!s) return api_error(404, "no session `" + r.params.at("id") + "`");
        return ok(summary(*s));
    });
    router.add("POST", base + "/sessions/{id}/hint", [&t](const api_request& r) {
        auto* s = t.find(r.params.at("id"));
        if (!s) return api_error(404, "no session `" + r.params.at("id") + "`");
        auto h = s->hint(t.session_now());
        t.changed();
        if (!h) return api_error(409, "there are no more hints");
        return ok(json::object{{"text", h->first}, {"cost", h->second}, {"number", s->hints_used()}, {"left", s->hints_left()}});
    });
    router.add("POST", base + "/sessions/{id}/diagnose", guarded([&l, &t](const api_request& r) {
        auto* s = t.find(r.params.at("id"));
        if (!s) return api_error(404, "no session `" + r.params.at("id") + "`");
        auto body = parse_body(r);
        unknown_keys(body, {"kind", "target"}, "the body");
        if (!body.contains("kind") || !body.contains("target")) return api_error(400, "send {\"kind\": ..., \"target\": ...}");
        auto kind = want_string(body.at("kind"), "kind");
        auto target = want_string(body.at("target"), "target");
        if (!find_fault_kind(support::to_lower(kind))) {
            auto names = fault_kind_names();
            auto guess = support::did_you_mean(support::to_lower(kind), names);
            return api_error(400, "there is no fault kind `" + kind + "`", guess ? "did you mean `" + *guess + "`?" : "");
        }
        auto d = s->diagnose(kind, target, t.injected(), l.answer(), t.session_now());
        t.changed();
        return ok(json::object{{"correct", d.correct}, {"cost", d.cost}, {"score", s->score()}});
    }));
    router.add_async("POST", base + "/sessions/{id}/verify", [&t](const api_request& r) -> boost::asio::awaitable<api_response> {
        auto* s = t.find(r.params.at("id"));
        if (!s) co_return api_error(404, "no session `" + r.params.at("id") + "`");
        auto pending = t.verify(*s);
        auto rep = co_await std::move(pending);
        json::array reasons;
        for (auto& x : rep.reasons) reasons.push_back(json::string(x));
        co_return ok(json::object{{"passed", rep.passed}, {"score", rep.score}, {"reasons", reasons}, {"report", report_json(rep)}});
    });
}

}  // namespace sim
