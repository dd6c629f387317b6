#include "simulator/config_json.hpp"

#include <stdexcept>

#include <boost/json.hpp>

#include "fake_dns/zone_file.hpp"

namespace sim {

namespace json = boost::json;

namespace {

// Reading: every accessor names the path of what it could not read.
struct reader {
    const json::object& o;
    std::string where;

    [[noreturn]] void fail(std::string_view key, std::string_view what) const {
        throw std::invalid_argument(where + (where.empty() ? "" : ".") + std::string(key) + ": " + std::string(what));
    }
    const json::value* find(std::string_view key) const { return o.if_contains(key); }
    const json::value& at(std::string_view key) const {
        auto* v = find(key);
        if (!v) fail(key, "missing");
        return *v;
    }
    std::string text(std::string_view key, std::string fallback = {}) const {
        auto* v = find(key);
        if (!v) return fallback;
        if (!v->is_string()) fail(key, "not a string");
        return std::string(v->as_string());
    }
    std::int64_t integer(std::string_view key, std::int64_t fallback = 0) const {
        auto* v = find(key);
        if (!v) return fallback;
        if (v->is_int64()) return v->as_int64();
        if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
        fail(key, "not an integer");
    }
    bool flag(std::string_view key, bool fallback = false) const {
        auto* v = find(key);
        if (!v) return fallback;
        if (!v->is_bool()) fail(key, "not true or false");
        return v->as_bool();
    }
    std::vector<std::string> texts(std::string_view key) const {
        std::vector<std::string> out;
        auto* v = find(key);
        if (!v) return out;
        if (!v->is_array()) fail(key, "not an array");
        for (auto& x : v->as_array()) {
            if (!x.is_string()) fail(key, "holds something that is not a string");
            out.emplace_back(x.as_string());
        }
        return out;
    }
    duration span(std::string_view key, duration fallback = duration{0}) const {
        return find(key) ? duration(integer(key)) : fallback;
    }
    ipv4 address(std::string_view key) const { return static_cast<ipv4>(integer(key)); }
    std::vector<ipv4> addresses(std::string_view key) const {
        std::vector<ipv4> out;
        auto* v = find(key);
        if (!v) return out;
        if (!v->is_array()) fail(key, "not an array");
        for (auto& x : v->as_array()) out.push_back(static_cast<ipv4>(x.to_number<std::int64_t>()));
        return out;
    }
    // Calls fn(reader) for each object of the array at `key`.
    template <class F>
    void each(std::string_view key, F fn) const {
        auto* v = find(key);
        if (!v) return;
        if (!v->is_array()) fail(key, "not an array");
        std::size_t i = 0;
        for (auto& x : v->as_array()) {
            auto path = where + (where.empty() ? "" : ".") + std::string(key) + "[" + std::to_string(i++) + "]";
            if (!x.is_object()) throw std::invalid_argument(path + ": not an object");
            fn(reader{x.as_object(), path});
        }
    }
    std::optional<reader> object(std::string_view key) const {
        auto* v = find(key);
        if (!v || v->is_null()) return std::nullopt;
        if (!v->is_object()) fail(key, "not an object");
        return reader{v->as_object(), where + (where.empty() ? "" : ".") + std::string(key)};
    }
};

json::array strings(const std::vector<std::string>& v) {
    json::array a;
    for (auto& s : v) a.emplace_back(s);
    return a;
}

json::array numbers(const std::vector<ipv4>& v) {
    json::array a;
    for (auto x : v) a.emplace_back(static_cast<std::int64_t>(x));
    return a;
}

std::int64_t ms(duration d) { return d.count(); }

const std::vector<std::pair<smtp_rule::action, std::string_view>> rule_actions = {
    {smtp_rule::action::reject, "reject"},
    {smtp_rule::action::tempfail, "tempfail"},
    {smtp_rule::action::disconnect, "disconnect"},
    {smtp_rule::action::stall, "stall"},
};

json::object smtp_to_json(const smtp_config& s) {
    json::array routes;
    for (auto& r : s.routes) routes.push_back({{"domain", r.domain}, {"next_hop", r.next_hop}});
    json::array retry;
    for (auto d : s.retry) retry.emplace_back(ms(d));
    return {{"local_domains", strings(s.local_domains)},
            {"mailboxes", strings(s.mailboxes)},
            {"relay_domains", strings(s.relay_domains)},
            {"routes", routes},
            {"smart_host", s.smart_host},
            {"max_message_size", s.max_message_size},
            {"max_recipients", s.max_recipients},
            {"max_hops", s.max_hops},
            {"bounce_after", ms(s.bounce_after)},
            {"retry", retry}};
}

smtp_config smtp_from(const reader& r) {
    smtp_config s;
    s.local_domains = r.texts("local_domains");
    s.mailboxes = r.texts("mailboxes");
    s.relay_domains = r.texts("relay_domains");
    r.each("routes", [&](const reader& x) { s.routes.push_back({x.text("domain"), x.text("next_hop")}); });
    s.smart_host = r.text("smart_host");
    s.max_message_size = static_cast<std::uint64_t>(r.integer("max_message_size"));
    s.max_recipients = static_cast<int>(r.integer("max_recipients"));
    s.max_hops = static_cast<int>(r.integer("max_hops"));
    s.bounce_after = r.span("bounce_after");
    s.retry.clear();
    if (auto* v = r.find("retry"); v && v->is_array())
        for (auto& d : v->as_array()) s.retry.push_back(duration(d.to_number<std::int64_t>()));
    return s;
}

json::object exchange_to_json(const exchange_config& e) {
    auto& i = e.imc;
    json::array domains, mailboxes, connectors;
    for (auto& d : i.email_domains) domains.push_back({{"domain", d.domain}, {"host", d.host}});
    for (auto& m : e.mailboxes)
        mailboxes.push_back({{"alias", m.alias}, {"display_name", m.display_name}, {"smtp", strings(m.smtp)}});
    for (auto& c : e.connectors)
        connectors.push_back({{"name", c.name}, {"address_space", strings(c.address_space)}, {"cost", c.cost}});
    json::object imc{{"installed", i.installed},
                     {"running", i.running},
                     {"mode", std::string(to_string(i.mode))},
                     {"address_space", strings(i.address_space)},
                     {"cost", i.cost},
                     {"email_domains", domains},
                     {"smart_host", i.smart_host},
                     {"resolver_search_list", strings(i.resolver_search_list)},
                     {"max_message_size", i.max_message_size},
                     {"max_recipients", i.max_recipients},
                     {"protocol_log", i.protocol_log},
                     {"start_blocker", i.start_blocker}};
    return {{"org_domain", e.org_domain}, {"mta_running", e.mta_running}, {"store_running", e.store_running},
            {"imc", imc}, {"mailboxes", mailboxes}, {"connectors", connectors}};
}

exchange_config exchange_from(const reader& r) {
    exchange_config e;
    e.org_domain = r.text("org_domain");
    e.mta_running = r.flag("mta_running", true);
    e.store_running = r.flag("store_running", true);
    if (auto i = r.object("imc")) {
        auto& m = e.imc;
        m.installed = i->flag("installed", true);
        m.running = i->flag("running", true);
        auto mode = parse_transfer_mode(i->text("mode", "inbound_outbound"));
        if (!mode) i->fail("mode", "not a transfer mode");
        m.mode = *mode;
        m.address_space = i->texts("address_space");
        m.cost = static_cast<int>(i->integer("cost", 1));
        i->each("email_domains", [&](const reader& x) { m.email_domains.push_back({x.text("domain"), x.text("host")}); });
        m.smart_host = i->text("smart_host");
        m.resolver_search_list = i->texts("resolver_search_list");
        m.max_message_size = static_cast<std::uint64_t>(i->integer("max_message_size"));
        m.max_recipients = static_cast<int>(i->integer("max_recipients"));
        m.protocol_log = i->text("protocol_log", "none");
        m.start_blocker = i->text("start_blocker");
    }
    r.each("mailboxes", [&](const reader& x) {
        exchange_mailbox m;
        m.alias = x.text("alias");
        m.display_name = x.text("display_name");
        m.smtp = x.texts("smtp");
        e.mailboxes.push_back(std::move(m));
    });
    r.each("connectors", [&](const reader& x) {
        exchange_connector c;
        c.name = x.text("name");
        c.address_space = x.texts("address_space");
        c.cost = static_cast<int>(x.integer("cost", 1));
        e.connectors.push_back(std::move(c));
    });
    return e;
}

json::object service_to_json(const host_config& h) {
    json::object dns{{"running", h.dns.running}, {"delay", ms(h.dns.delay)}, {"truncated", h.dns.truncated}};
    if (h.dns.servfail) dns["servfail"] = strings(*h.dns.servfail);
    json::object rules;
    for (auto& [phase, rule] : h.smtp_service.rules) {
        std::string action;
        for (auto& [a, name] : rule_actions)
            if (a == rule.what) action = name;
        rules[to_string(phase)] = json::object{{"action", action}, {"code", rule.code}, {"text", rule.text}};
    }
    json::object smtp{{"running", h.smtp_service.running},
                      {"firewalled", h.smtp_service.firewalled},
                      {"rules", rules},
                      {"rate_limit_per_minute", h.smtp_service.rate_limit_per_minute},
                      {"bounces_bounces", h.smtp_service.bounces_bounces}};
    return {{"tcpip_installed", h.tcpip_installed}, {"dns", dns}, {"smtp", smtp}};
}

void service_from(const reader& r, host_config& h) {
    h.tcpip_installed = r.flag("tcpip_installed", true);
    if (auto d = r.object("dns")) {
        h.dns.running = d->flag("running", true);
        h.dns.delay = d->span("delay");
        h.dns.truncated = d->flag("truncated");
        if (d->find("servfail")) h.dns.servfail = d->texts("servfail");
    }
    if (auto s = r.object("smtp")) {
        h.smtp_service.running = s->flag("running", true);
        h.smtp_service.firewalled = s->flag("firewalled");
        h.smtp_service.rate_limit_per_minute = static_cast<int>(s->integer("rate_limit_per_minute"));
        h.smtp_service.bounces_bounces = s->flag("bounces_bounces");
        if (auto rules = s->object("rules"))
            for (auto& [key, v] : rules->o) {
                auto phase = parse_phase(key);
                if (!phase || !v.is_object()) rules->fail(key, "not a phase with a rule");
                reader x{v.as_object(), rules->where + "." + std::string(key)};
                smtp_rule rule;
                auto action = x.text("action");
                bool known = false;
                for (auto& [a, name] : rule_actions)
                    if (name == action) rule.what = a, known = true;
                if (!known) x.fail("action", "not reject, tempfail, disconnect or stall");
                rule.code = static_cast<int>(x.integer("code"));
                rule.text = x.text("text");
                h.smtp_service.rules[*phase] = std::move(rule);
            }
    }
}

json::value param_to_json(const param_value& v) {
    return std::visit(
        [](auto& x) -> json::value {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::vector<std::string>>) return strings(x);
            else return json::value(x);
        },
        v);
}

param_value param_from(const json::value& v, const std::string& where) {
    if (v.is_string()) return std::string(v.as_string());
    if (v.is_int64()) return v.as_int64();
    if (v.is_uint64()) return static_cast<std::int64_t>(v.as_uint64());
    if (v.is_double()) return v.as_double();
    if (v.is_bool()) return v.as_bool();
    if (v.is_array()) {
        std::vector<std::string> out;
        for (auto& x : v.as_array()) {
            if (!x.is_string()) throw std::invalid_argument(where + ": a list parameter holds a non-string");
            out.emplace_back(x.as_string());
        }
        return out;
    }
    throw std::invalid_argument(where + ": a parameter of an unknown type");
}

}  // namespace

json::value config_to_json(const configuration& c) {
    json::array segments, routers, links, hosts, zones;
    for (auto& s : c.segments) segments.push_back({{"name", s.name}, {"cidr", s.cidr.to_string()}});
    for (auto& r : c.routers)
        routers.push_back({{"name", r.name}, {"addresses", numbers(r.addresses)}, {"ip_routing", r.ip_routing}});
    for (auto& l : c.links) links.push_back({{"a", l.a}, {"b", l.b}, {"up", l.up}});
    for (auto& h : c.hosts) {
        json::array roles;
        for (auto r : h.roles) roles.emplace_back(to_string(r));
        json::object o{{"name", h.name},
                       {"fqdn", h.fqdn},
                       {"address", static_cast<std::int64_t>(h.address)},
                       {"dns_servers", numbers(h.dns_servers)},
                       {"roles", roles},
                       {"state", service_to_json(h)}};
        if (h.gateway) o["gateway"] = static_cast<std::int64_t>(*h.gateway);
        if (h.smtp) o["smtp"] = smtp_to_json(*h.smtp);
        if (h.exchange) o["exchange"] = exchange_to_json(*h.exchange);
        hosts.push_back(std::move(o));
    }
    for (auto& z : c.zones) {
        json::array records;
        for (auto& r : z.records) records.emplace_back(fake_dns::to_text(r));
        zones.push_back({{"origin", z.origin}, {"server", z.server}, {"clients", strings(z.clients)}, {"records", records}});
    }
    return json::object{{"segments", segments}, {"routers", routers}, {"links", links}, {"hosts", hosts}, {"zones", zones}};
}

configuration config_from_json(const json::value& v) {
    if (!v.is_object()) throw std::invalid_argument("a configuration must be an object");
    reader top{v.as_object(), ""};
    configuration c;
    top.each("segments", [&](const reader& r) {
        segment_config s;
        s.name = r.text("name");
        auto cidr = support::parse_cidr(r.text("cidr"));
        if (!cidr) r.fail("cidr", "not a.b.c.d/len");
        s.cidr = *cidr;
        c.segments.push_back(std::move(s));
    });
    top.each("routers", [&](const reader& r) {
        router_config x;
        x.name = r.text("name");
        x.addresses = r.addresses("addresses");
        x.ip_routing = r.flag("ip_routing", true);
        c.routers.push_back(std::move(x));
    });
    top.each("links", [&](const reader& r) {
        link_config l;
        l.a = r.text("a");
        l.b = r.text("b");
        l.up = r.flag("up", true);
        c.links.push_back(std::move(l));
    });
    top.each("hosts", [&](const reader& r) {
        host_config h;
        h.name = r.text("name");
        h.fqdn = r.text("fqdn");
        h.address = r.address("address");
        if (r.find("gateway")) h.gateway = r.address("gateway");
        h.dns_servers = r.addresses("dns_servers");
        for (auto& name : r.texts("roles")) {
            bool known = false;
            for (auto x : {role::dns, role::relay, role::mailstore, role::exchange, role::client})
                if (to_string(x) == name) h.roles.push_back(x), known = true;
            if (!known) r.fail("roles", "unknown role `" + name + "`");
        }
        if (auto s = r.object("smtp")) h.smtp = smtp_from(*s);
        if (auto e = r.object("exchange")) h.exchange = exchange_from(*e);
        if (auto s = r.object("state")) service_from(*s, h);
        c.hosts.push_back(std::move(h));
    });
    top.each("zones", [&](const reader& r) {
        zone_config z;
        z.origin = r.text("origin");
        z.server = r.text("server");
        z.clients = r.texts("clients");
        std::string text;
        for (auto& line : r.texts("records")) text += line + "\n";
        auto parsed = fake_dns::parse_zone_text(text, z.origin);
        if (!parsed.errors.empty())
            r.fail("records", "line " + std::to_string(parsed.errors.front().line) + ": " + parsed.errors.front().message);
        z.records = std::move(parsed.records);
        c.zones.push_back(std::move(z));
    });
    return c;
}

json::value fault_to_json(const fault& f) {
    json::object params;
    for (auto& [k, v] : f.params) params[k] = param_to_json(v);
    json::object timing;
    if (f.timing.after) timing["after"] = ms(*f.timing.after);
    if (f.timing.until) timing["until"] = ms(*f.timing.until);
    if (f.timing.flap) timing["flap"] = json::array{ms(f.timing.flap->first), ms(f.timing.flap->second)};
    if (f.timing.first) timing["first"] = *f.timing.first;
    if (f.timing.odds) timing["odds"] = *f.timing.odds;
    return json::object{{"id", f.id}, {"kind", f.kind}, {"params", params}, {"timing", timing}};
}

fault fault_from_json(const json::value& v) {
    if (!v.is_object()) throw std::invalid_argument("a fault must be an object");
    reader r{v.as_object(), "fault"};
    fault f;
    f.id = r.text("id");
    f.kind = r.text("kind");
    if (auto p = r.object("params"))
        for (auto& [k, x] : p->o) f.params[std::string(k)] = param_from(x, p->where + "." + std::string(k));
    if (auto t = r.object("timing")) {
        if (t->find("after")) f.timing.after = t->span("after");
        if (t->find("until")) f.timing.until = t->span("until");
        if (auto* flap = t->find("flap"); flap && flap->is_array() && flap->as_array().size() == 2)
            f.timing.flap = std::pair{duration(flap->as_array()[0].to_number<std::int64_t>()),
                                      duration(flap->as_array()[1].to_number<std::int64_t>())};
        if (t->find("first")) f.timing.first = static_cast<int>(t->integer("first"));
        if (auto* odds = t->find("odds")) f.timing.odds = odds->to_number<double>();
    }
    return f;
}

}  // namespace sim
