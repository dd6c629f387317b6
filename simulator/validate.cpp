#include "simulator/validate.hpp"

#include <algorithm>
#include <set>

#include "support/text.hpp"

namespace sim {

namespace {

using support::format_ipv4;

std::string quote(std::string_view s) { return "`" + std::string(s) + "`"; }

bool valid_domain(std::string_view d) {
    if (d.empty() || d.size() > 253) return false;
    std::size_t label = 0;
    for (char c : d) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok || ++label > 63) return false;
    }
    return true;
}

bool valid_mail_address(std::string_view a) {
    auto at = a.find('@');
    return at != std::string_view::npos && at > 0 && at == a.rfind('@') && valid_domain(a.substr(at + 1));
}

bool in_prefix(ipv4 a, int octet) { return (a >> 16) == ((127u << 8) | static_cast<unsigned>(octet)); }

std::string prefix_text(int octet) { return "127." + std::to_string(octet); }

std::string outside_prefix(ipv4 a, int octet) {
    if (!support::is_loopback(a))
        return "address " + format_ipv4(a) + " is outside 127.0.0.0/8: a lab never sends traffic off this machine";
    if ((a >> 16) == (127u << 8))
        return "address " + format_ipv4(a) + " lies in 127.0.0.0/16, which labs never use";
    return "address " + format_ipv4(a) + " is outside the lab prefix " + prefix_text(octet) + " (" + prefix_text(octet) +
           ".0.0/16)";
}

const std::string* as_string(const param_value& v) { return std::get_if<std::string>(&v); }

// The list a list parameter holds; a single string counts as a one-element list.
std::optional<std::vector<std::string>> as_list(const param_value& v) {
    if (auto* l = std::get_if<std::vector<std::string>>(&v)) return *l;
    if (auto* s = std::get_if<std::string>(&v)) return std::vector<std::string>{*s};
    return std::nullopt;
}

std::string smtp_role_problem(const host_config& h, param_kind k) {
    bool smtp = h.has_role(role::relay) || h.has_role(role::mailstore);
    if (k == param_kind::relay_host && !smtp)
        return "host " + quote(h.name) + " has no relay or mailstore role";
    if (k == param_kind::smtp_host && !smtp && !h.has_role(role::exchange))
        return "host " + quote(h.name) + " has no SMTP service (roles relay, mailstore or exchange)";
    return {};
}

std::string unknown_host(std::string_view name, const configuration& c) {
    std::vector<std::string_view> names;
    for (auto& h : c.hosts) names.push_back(h.name);
    std::string msg = "no host called " + quote(name);
    if (auto s = support::did_you_mean(name, names)) msg += " — did you mean " + quote(*s) + "?";
    return msg;
}

std::string unknown_router(std::string_view name, const configuration& c) {
    std::vector<std::string_view> names;
    for (auto& r : c.routers) names.push_back(r.name);
    std::string msg = "no router called " + quote(name);
    if (auto s = support::did_you_mean(name, names)) msg += " — did you mean " + quote(*s) + "?";
    return msg;
}

const exchange_mailbox* mailbox_with(const configuration& c, std::string_view address) {
    for (auto& h : c.hosts)
        if (h.exchange)
            for (auto& m : h.exchange->mailboxes)
                for (auto& a : m.smtp)
                    if (support::iequals(a, address)) return &m;
    return nullptr;
}

bool owns(const configuration& c, std::string_view name, std::uint16_t type) {
    auto* z = c.zone_for(name);
    if (!z) return false;
    auto key = fake_dns::canonical_name(name);
    return std::any_of(z->records.begin(), z->records.end(),
                       [&](auto& r) { return r.owner == key && r.type == type; });
}

// A name or address that mail or a connector can be pointed at.
bool resolvable_target(const configuration& c, std::string_view target, int octet, std::string& why) {
    if (auto a = support::parse_ipv4(target)) {
        if (!in_prefix(*a, octet)) {
            why = outside_prefix(*a, octet);
            return false;
        }
        return true;
    }
    if (c.find_host(target) || c.zone_for(target)) return true;
    why = quote(target) + " is neither a host, an address, nor a name in the lab's zones";
    return false;
}

}  // namespace

std::string check_param(const param_spec& spec, const param_value& value, const configuration& c, int octet) {
    auto name = std::string(spec.name);
    auto want = [&] { return quote(name) + " must be " + std::string(describe(spec.kind)); };
    switch (spec.kind) {
        case param_kind::host:
        case param_kind::exchange_host:
        case param_kind::smtp_host:
        case param_kind::relay_host:
        case param_kind::dns_server: {
            auto* s = as_string(value);
            if (!s) return want();
            auto* h = c.find_host(*s);
            if (!h) return unknown_host(*s, c);
            if (spec.kind == param_kind::exchange_host && !h->has_role(role::exchange))
                return "host " + quote(h->name) + " has no exchange role";
            if (spec.kind == param_kind::dns_server && !h->has_role(role::dns))
                return "host " + quote(h->name) + " has no dns role";
            return smtp_role_problem(*h, spec.kind);
        }
        case param_kind::router: {
            auto* s = as_string(value);
            if (!s) return want();
            return c.find_router(*s) ? std::string{} : unknown_router(*s, c);
        }
        case param_kind::router_pair: {
            auto l = as_list(value);
            if (!l || l->size() != 2) return want();
            for (auto& r : *l)
                if (!c.find_router(r)) return unknown_router(r, c);
            if (!c.find_link((*l)[0], (*l)[1]))
                return "no [[link]] joins " + quote((*l)[0]) + " and " + quote((*l)[1]);
            return {};
        }
        case param_kind::smtp_hosts: {
            auto l = as_list(value);
            if (!l || l->size() < 2) return want();
            for (auto& n : *l) {
                auto* h = c.find_host(n);
                if (!h) return unknown_host(n, c);
                if (auto p = smtp_role_problem(*h, param_kind::smtp_host); !p.empty()) return p;
            }
            return {};
        }
        case param_kind::address: {
            auto* s = as_string(value);
            if (!s) return want();
            auto a = support::parse_ipv4(*s);
            if (!a) return quote(*s) + " is not an IPv4 address";
            return in_prefix(*a, octet) ? std::string{} : outside_prefix(*a, octet);
        }
        case param_kind::mailbox_address: {
            auto* s = as_string(value);
            if (!s) return want();
            if (!valid_mail_address(*s)) return quote(*s) + " is not an e-mail address";
            return mailbox_with(c, *s) ? std::string{} : "no Exchange mailbox has the address " + quote(*s);
        }
        case param_kind::dns_name: {
            auto* s = as_string(value);
            if (!s) return want();
            if (!valid_domain(fake_dns::canonical_name(*s))) return quote(*s) + " is not a DNS name";
            return c.zone_for(*s) ? std::string{} : quote(*s) + " lies in none of the lab's zones";
        }
        case param_kind::mail_domain: {
            auto* s = as_string(value);
            if (!s || !valid_domain(*s)) return want();
            return {};
        }
        case param_kind::names:
        case param_kind::suffixes: {
            auto l = as_list(value);
            if (!l) return want();
            for (auto& n : *l)
                if (!valid_domain(fake_dns::canonical_name(n))) return quote(n) + " is not a DNS name";
            return {};
        }
        case param_kind::phase: {
            auto* s = as_string(value);
            if (!s) return want();
            if (parse_phase(*s)) return {};
            std::vector<std::string_view> phases = {"banner", "ehlo", "mail", "rcpt", "data", "dot"};
            std::string msg = want() + ", not " + quote(*s);
            if (auto d = support::did_you_mean(*s, phases)) msg += " — did you mean " + quote(*d) + "?";
            return msg;
        }
        case param_kind::reply_code:
        case param_kind::tempfail_code: {
            auto* i = std::get_if<std::int64_t>(&value);
            std::int64_t hi = spec.kind == param_kind::reply_code ? 599 : 499;
            if (!i || *i < 400 || *i > hi) return want();
            return {};
        }
        case param_kind::text:
        case param_kind::connector: {
            auto* s = as_string(value);
            if (!s || (spec.kind == param_kind::connector && s->empty())) return want();
            return {};
        }
        case param_kind::size: {
            if (auto* i = std::get_if<std::int64_t>(&value); i && *i > 0) return {};
            auto* s = as_string(value);
            if (!s || !support::parse_size(*s)) return want();
            return {};
        }
        case param_kind::delay: {
            auto* s = as_string(value);
            if (!s || !support::parse_duration(*s)) return want();
            return {};
        }
        case param_kind::count: {
            auto* i = std::get_if<std::int64_t>(&value);
            if (!i || *i < 1 || *i > 1000000) return want();
            return {};
        }
        case param_kind::mode: {
            auto* s = as_string(value);
            if (!s) return want();
            if (parse_transfer_mode(*s)) return {};
            std::vector<std::string_view> modes = {"none", "inbound", "outbound", "inbound_outbound"};
            std::string msg = want() + ", not " + quote(*s);
            if (auto d = support::did_you_mean(*s, modes)) msg += " — did you mean " + quote(*d) + "?";
            return msg;
        }
        case param_kind::event_id: {
            std::string text = to_string(value);
            if (!std::holds_alternative<std::int64_t>(value) && !as_string(value)) return want();
            return find_start_failure(text) ? std::string{} : want() + ", not " + quote(text);
        }
        case param_kind::address_space: {
            auto* s = as_string(value);
            if (!s || s->find(':') == std::string::npos || s->front() == ':') return want();
            return {};
        }
    }
    return {};
}

std::string check_fault(const fault& f, const configuration& c, int octet) {
    auto* kind = find_fault_kind(f.kind);
    if (!kind) {
        std::string msg = "unknown fault kind " + quote(f.kind);
        if (auto s = support::did_you_mean(f.kind, fault_kind_names())) msg += " — did you mean " + quote(*s) + "?";
        return msg;
    }
    for (auto& [key, value] : f.params) {
        auto spec = std::find_if(kind->params.begin(), kind->params.end(), [&](auto& p) { return p.name == key; });
        if (spec == kind->params.end()) return "unknown parameter " + quote(key) + " for " + f.kind;
        if (auto e = check_param(*spec, value, c, octet); !e.empty()) return e;
    }
    for (auto& p : kind->params)
        if (p.required && !f.params.count(std::string(p.name))) return f.kind + " needs " + quote(p.name);
    if (auto e = check_timing(*kind, f.timing); !e.empty()) return e;
    return check_fault_effect(f, c);
}

std::string check_timing(const fault_kind& kind, const fault_timing& t) {
    if (t.gated() && !kind.gateable) return "`first` and `odds` apply only to SMTP and DNS faults, not to " + std::string(kind.kind);
    if (t.after && t.until && *t.until <= *t.after) return "`until` must come after `after`";
    return {};
}

std::string check_fault_effect(const fault& f, const configuration& c) {
    auto* kind = find_fault_kind(f.kind);
    if (!kind) return {};
    // Kind-specific: the fault must change something it can name.
    auto host = c.find_host(f.text(kind->params.front().name));
    if (f.kind == "dns.bad_a_record" || f.kind == "dns.missing_a_record") {
        if (!owns(c, f.text("name"), 1)) return quote(f.text("name")) + " has no A record to change";
    } else if (f.kind == "dns.bad_mx" || f.kind == "dns.missing_mx") {
        if (!owns(c, f.text("domain"), 15)) return quote(f.text("domain")) + " has no MX record to change";
    } else if (f.kind == "net.wrong_address" && host) {
        if (support::parse_ipv4(f.text("address")) == host->address)
            return "host " + quote(host->name) + " already has the address " + f.text("address");
        if (auto* other = c.host_at(*support::parse_ipv4(f.text("address"))); other && other != host)
            return "address " + f.text("address") + " belongs to host " + quote(other->name);
    } else if (f.kind == "net.wrong_gateway" && host) {
        if (support::parse_ipv4(f.text("gateway")) == host->gateway)
            return "host " + quote(host->name) + " already uses the gateway " + f.text("gateway");
    } else if (f.kind == "net.wrong_dns_server" && host) {
        auto a = support::parse_ipv4(f.text("address"));
        if (a && host->dns_servers.size() == 1 && host->dns_servers[0] == *a)
            return "host " + quote(host->name) + " already uses the DNS server " + f.text("address");
    } else if (f.kind == "net.ip_routing_disabled") {
        if (auto* r = c.find_router(f.text("router")); r && !r->ip_routing)
            return "router " + quote(r->name) + " already has IP routing disabled";
    } else if (f.kind == "smtp.relay_denied" && host && host->smtp) {
        auto d = support::to_lower(f.text("domain"));
        auto& rd = host->smtp->relay_domains;
        if (std::find(rd.begin(), rd.end(), d) == rd.end())
            return "host " + quote(host->name) + " does not relay " + quote(d) + " in the first place";
    } else if (f.kind == "imc.transfer_mode") {
        if (parse_transfer_mode(f.text("mode")) == transfer_mode::inbound_outbound)
            return "transfer mode inbound_outbound is the healthy setting; the fault would change nothing";
    } else if (f.kind == "imc.stopped" || f.kind == "imc.start_fails") {
        if (host && host->exchange && !host->exchange->imc.installed)
            return "the IMC of " + quote(host->name) + " is not installed";
    }
    return {};
}

namespace {

class validator {
public:
    validator(const scenario& s, diagnostics& d) : s_(s), c_(s.answer), diags_(d) {
        octet_ = parse_prefix(s.lab.prefix).value_or(25);
    }

    void run() {
        check_meta();
        check_segments();
        check_routers();
        check_links();
        check_hosts();
        check_zones();
        check_faults();
        check_trainer();
        check_expect();
    }

private:
    void address(ipv4 a, const source_pos& at, std::string_view what) {
        if (a == 0) return;  // already reported as malformed
        if (!in_prefix(a, octet_)) diags_.error(at, std::string(what) + ": " + outside_prefix(a, octet_));
    }

    void check_meta() {
        if (!s_.meta.vantage.empty() && !c_.find_host(s_.meta.vantage))
            diags_.error(s_.meta.vantage_pos, "vantage: " + unknown_host(s_.meta.vantage, c_));
        if (c_.hosts.empty()) diags_.error(s_.path, 1, 1, "the scenario has no [[host]]");
    }

    template <typename T, typename Key>
    void unique(const std::vector<T>& items, Key key, std::string_view what) {
        std::set<std::string> seen;
        for (auto& i : items) {
            auto k = support::to_lower(key(i));
            if (k.empty()) continue;
            if (!seen.insert(k).second) diags_.error(i.pos, std::string(what) + " " + quote(key(i)) + " is defined twice");
        }
    }

    void check_segments() {
        unique(c_.segments, [](auto& s) { return s.name; }, "segment");
        for (std::size_t i = 0; i < c_.segments.size(); ++i) {
            auto& s = c_.segments[i];
            if (s.cidr.network == 0 && s.cidr.length == 0) continue;
            if (s.cidr.length < 16 || !in_prefix(s.cidr.network, octet_))
                diags_.error(s.pos, "segment " + quote(s.name) + " (" + s.cidr.to_string() +
                                        ") must lie inside the lab prefix " + prefix_text(octet_) + ".0.0/16");
            for (std::size_t j = 0; j < i; ++j) {
                auto& o = c_.segments[j];
                if (o.cidr.contains(s.cidr.network) || s.cidr.contains(o.cidr.network))
                    diags_.error(s.pos, "segment " + quote(s.name) + " overlaps segment " + quote(o.name));
            }
        }
    }

    void check_routers() {
        unique(c_.routers, [](auto& r) { return r.name; }, "router");
        for (auto& r : c_.routers) {
            if (c_.find_host(r.name)) diags_.error(r.pos, "router " + quote(r.name) + " has the name of a host");
            if (r.addresses.empty()) diags_.error(r.pos, "router " + quote(r.name) + " has no addresses");
            std::set<const segment_config*> segs;
            for (auto a : r.addresses) {
                address(a, r.pos, "router " + r.name);
                auto* seg = c_.segment_of(a);
                if (!seg) diags_.error(r.pos, "router " + quote(r.name) + ": address " + format_ipv4(a) + " lies in no segment");
                else if (!segs.insert(seg).second)
                    diags_.error(r.pos, "router " + quote(r.name) + " has two addresses on segment " + quote(seg->name));
                note_address(a, r.pos, "router " + r.name);
            }
        }
    }

    void note_address(ipv4 a, const source_pos& at, const std::string& owner) {
        if (a == 0) return;
        auto [it, inserted] = owners_.emplace(a, owner);
        if (!inserted) diags_.error(at, "address " + format_ipv4(a) + " of " + owner + " is already used by " + it->second);
    }

    void check_links() {
        for (std::size_t i = 0; i < c_.links.size(); ++i) {
            auto& l = c_.links[i];
            if (l.a.empty()) continue;
            for (auto* n : {&l.a, &l.b})
                if (!c_.find_router(*n)) diags_.error(l.pos, "[[link]]: " + unknown_router(*n, c_));
            if (support::iequals(l.a, l.b)) diags_.error(l.pos, "a [[link]] joins two different routers");
            for (std::size_t j = 0; j < i; ++j)
                if (&c_.links[j] == c_.find_link(l.a, l.b))
                    diags_.error(l.pos, "routers " + quote(l.a) + " and " + quote(l.b) + " are linked twice");
        }
    }

    void check_hosts() {
        unique(c_.hosts, [](auto& h) { return h.name; }, "host");
        unique(c_.hosts, [](auto& h) { return h.fqdn; }, "FQDN");
        std::set<std::string> smtp_addresses;
        for (auto& h : c_.hosts) {
            if (!h.fqdn.empty() && !valid_domain(h.fqdn))
                diags_.error(h.pos, "host " + quote(h.name) + ": " + quote(h.fqdn) + " is not a valid FQDN");
            address(h.address, h.pos, "host " + h.name);
            note_address(h.address, h.pos, "host " + h.name);
            auto* seg = h.address ? c_.segment_of(h.address) : nullptr;
            if (h.address && !seg)
                diags_.error(h.pos, "host " + quote(h.name) + ": address " + format_ipv4(h.address) + " lies in no segment");
            if (h.gateway) {
                address(*h.gateway, h.pos, "host " + h.name + " gateway");
                check_gateway(h, seg);
            }
            for (auto d : h.dns_servers) {
                address(d, h.pos, "host " + h.name + " dns_servers");
                auto* server = c_.host_at(d);
                if (d && (!server || !server->has_role(role::dns)))
                    diags_.error(h.pos, "host " + quote(h.name) + ": DNS server " + format_ipv4(d) +
                                            " is not the address of a host with the dns role");
            }
            bool smtp_role = h.has_role(role::relay) || h.has_role(role::mailstore);
            if (h.smtp && !smtp_role)
                diags_.error(h.pos, "host " + quote(h.name) + " has [host.smtp] but neither the relay nor the mailstore role");
            if (h.exchange && !h.has_role(role::exchange))
                diags_.error(h.pos, "host " + quote(h.name) + " has [host.exchange] but not the exchange role");
            if (h.has_role(role::exchange) && !h.exchange)
                diags_.error(h.pos, "host " + quote(h.name) + " has the exchange role but no [host.exchange]");
            if (h.has_role(role::exchange) && smtp_role)
                diags_.error(h.pos, "host " + quote(h.name) + ": an exchange host receives SMTP through its IMC; "
                                    "it cannot also be a relay or mailstore");
            if (h.smtp) check_smtp(h, *h.smtp);
            if (h.exchange) check_exchange(h, *h.exchange, smtp_addresses);
        }
    }

    void check_gateway(const host_config& h, const segment_config* seg) {
        auto gw = *h.gateway;
        if (gw == 0) return;
        for (auto& r : c_.routers)
            for (auto a : r.addresses)
                if (a == gw) {
                    if (seg && seg->cidr.contains(gw)) return;
                    diags_.error(h.pos, "host " + quote(h.name) + ": gateway " + format_ipv4(gw) + " (router " +
                                            quote(r.name) + ") is not on the host's segment" +
                                            (seg ? " " + quote(seg->name) : std::string{}));
                    return;
                }
        std::string msg = "host " + quote(h.name) + ": gateway " + format_ipv4(gw) + " is not a router address";
        if (seg) {
            std::vector<std::string> here;
            for (auto& r : c_.routers)
                for (auto a : r.addresses)
                    if (seg->cidr.contains(a)) here.push_back(format_ipv4(a));
            if (here.empty()) msg += " (no router has an address on segment " + quote(seg->name) + ")";
            else {
                msg += " on segment " + quote(seg->name) + " (routers there: ";
                for (std::size_t i = 0; i < here.size(); ++i) msg += (i ? ", " : "") + here[i];
                msg += ")";
            }
        }
        diags_.error(h.pos, msg);
    }

    void check_smtp(const host_config& h, const smtp_config& s) {
        if (h.has_role(role::mailstore) && !h.has_role(role::relay) && !s.relay_domains.empty())
            diags_.error(h.pos, "host " + quote(h.name) + " is a mailstore, which does not relay: give it the relay role "
                                                          "or drop relay_domains");
        for (auto& d : s.local_domains)
            if (!valid_domain(d)) diags_.error(h.pos, "host " + quote(h.name) + ": " + quote(d) + " is not a domain");
        for (auto& d : s.relay_domains)
            if (!valid_domain(d)) diags_.error(h.pos, "host " + quote(h.name) + ": " + quote(d) + " is not a domain");
        for (auto& m : s.mailboxes) {
            if (!valid_mail_address(m)) {
                diags_.error(h.pos, "host " + quote(h.name) + ": mailbox " + quote(m) + " is not an e-mail address");
                continue;
            }
            auto domain = m.substr(m.find('@') + 1);
            if (std::find(s.local_domains.begin(), s.local_domains.end(), domain) == s.local_domains.end())
                diags_.error(h.pos, "host " + quote(h.name) + ": mailbox " + quote(m) + " is not in a local domain");
        }
        for (auto& r : s.routes) {
            std::string why;
            if (!r.next_hop.empty() && !resolvable_target(c_, r.next_hop, octet_, why))
                diags_.error(h.pos, "host " + quote(h.name) + ": route for " + quote(r.domain) + ": " + why);
        }
        std::string why;
        if (!s.smart_host.empty() && !resolvable_target(c_, s.smart_host, octet_, why))
            diags_.error(h.pos, "host " + quote(h.name) + ": smart_host: " + why);
    }

    void check_exchange(const host_config& h, const exchange_config& e, std::set<std::string>& seen) {
        if (!e.org_domain.empty() && !valid_domain(e.org_domain))
            diags_.error(h.pos, "host " + quote(h.name) + ": org_domain " + quote(e.org_domain) + " is not a domain");
        unique(e.mailboxes, [](auto& m) { return m.alias; }, "mailbox alias");
        for (auto& m : e.mailboxes)
            for (auto& a : m.smtp) {
                if (!valid_mail_address(a)) diags_.error(m.pos, "mailbox " + quote(m.alias) + ": " + quote(a) + " is not an e-mail address");
                else if (!seen.insert(a).second) diags_.error(m.pos, "the SMTP address " + quote(a) + " is given to two mailboxes");
            }
        unique(e.connectors, [](auto& c) { return c.name; }, "connector");
        auto space = [&](const std::string& s) {
            if (s.find(':') == std::string::npos || s.front() == ':')
                diags_.error(h.pos, "host " + quote(h.name) + ": address space " + quote(s) + " must look like \"SMTP:*\"");
        };
        for (auto& s : e.imc.address_space) space(s);
        for (auto& c : e.connectors)
            for (auto& s : c.address_space) space(s);
        for (auto& d : e.imc.email_domains) {
            std::string why;
            if (!valid_domain(d.domain)) diags_.error(h.pos, "Email Domain " + quote(d.domain) + " is not a domain");
            if (!resolvable_target(c_, d.host, octet_, why))
                diags_.error(h.pos, "host " + quote(h.name) + ": Email Domain " + quote(d.domain) + ": " + why);
        }
        std::string why;
        if (!e.imc.smart_host.empty() && !resolvable_target(c_, e.imc.smart_host, octet_, why))
            diags_.error(h.pos, "host " + quote(h.name) + ": IMC smart_host: " + why);
    }

    void check_zones() {
        for (std::size_t i = 0; i < c_.zones.size(); ++i) {
            auto& z = c_.zones[i];
            if (!z.origin.empty() && !valid_domain(z.origin))
                diags_.error(z.pos, "zone origin " + quote(z.origin) + " is not a domain name");
            if (!z.server.empty()) {
                auto* h = c_.find_host(z.server);
                if (!h) diags_.error(z.pos, "zone " + quote(z.origin) + ": server: " + unknown_host(z.server, c_));
                else if (!h->has_role(role::dns))
                    diags_.error(z.pos, "zone " + quote(z.origin) + ": server " + quote(h->name) + " has no dns role");
            }
            for (auto& cl : z.clients)
                if (!c_.find_segment(cl)) {
                    std::vector<std::string_view> names;
                    for (auto& s : c_.segments) names.push_back(s.name);
                    std::string msg = "zone " + quote(z.origin) + ": clients: no segment called " + quote(cl);
                    if (auto s = support::did_you_mean(cl, names)) msg += " — did you mean " + quote(*s) + "?";
                    diags_.error(z.pos, msg);
                }
            bool soa = std::any_of(z.records.begin(), z.records.end(),
                                   [&](auto& r) { return r.type == 6 && r.owner == z.origin; });
            if (!soa && !z.origin.empty()) diags_.error(z.pos, "zone " + quote(z.origin) + " has no SOA record at its apex");
            for (std::size_t k = 0; k < z.records.size(); ++k)
                if (auto* a = std::get_if<fake_dns::a_data>(&z.records[k].data))
                    address(a->address, k < z.record_pos.size() ? z.record_pos[k] : z.pos,
                            "zone " + z.origin + ": A record of " + z.records[k].owner);
            for (std::size_t j = 0; j < i; ++j) {
                auto& o = c_.zones[j];
                if (!support::iequals(o.origin, z.origin) || !support::iequals(o.server, z.server)) continue;
                bool clash = o.clients.empty() == z.clients.empty();
                if (!clash)
                    continue;  // a default view and a view for listed segments: the listed one wins for them
                for (auto& a : z.clients)
                    if (std::find(o.clients.begin(), o.clients.end(), a) != o.clients.end()) clash = true;
                if (clash || z.clients.empty())
                    diags_.error(z.pos, "zone " + quote(z.origin) + " is served twice by " + quote(z.server) +
                                            " to the same clients");
            }
        }
    }

    void check_faults() {
        std::set<std::string> ids;
        for (auto& f : s_.faults) {
            if (!f.id.empty() && !ids.insert(f.id).second) diags_.error(f.pos, "fault id " + quote(f.id) + " is used twice");
            auto* kind = find_fault_kind(f.kind);
            if (!kind) continue;  // reported while reading
            for (auto& [key, param] : f.params) {
                auto spec = std::find_if(kind->params.begin(), kind->params.end(), [&](auto& p) { return p.name == key; });
                if (spec == kind->params.end()) continue;
                // A bad entry of a pick is reported where it was written.
                for (std::size_t i = 0; i < param.choices.size(); ++i)
                    if (auto e = check_param(*spec, param.choices[i], c_, octet_); !e.empty())
                        diags_.error(i < param.choice_pos.size() ? param.choice_pos[i] : param.pos, e);
            }
            if (auto e = check_timing(*kind, f.timing); !e.empty()) diags_.error(f.pos, e);
            // Kind-specific checks on every combination would explode: check the
            // first choice of every parameter, then each other entry of a pick
            // with the first choice of the others, reported at that entry.
            bool params_ok = true;
            for (auto& p : kind->params)
                if (p.required && !f.params.count(std::string(p.name))) params_ok = false;
            if (!params_ok) continue;
            auto effect = [&](const std::string* key, std::size_t index, const source_pos& at) {
                fault concrete{f.id, f.kind, {}, f.timing};
                for (auto& [k, param] : f.params) concrete.params[k] = param.choices.front();
                if (key) concrete.params[*key] = f.params.at(*key).choices[index];
                for (auto& [k, value] : concrete.params) {
                    auto spec = std::find_if(kind->params.begin(), kind->params.end(), [&](auto& p) { return p.name == k; });
                    if (spec != kind->params.end() && !check_param(*spec, value, c_, octet_).empty()) return;  // already reported
                }
                if (auto e = check_fault_effect(concrete, c_); !e.empty())
                    diags_.error(at, f.kind + ": " + e + (key ? " (with `" + *key + "` = " + to_string(concrete.params[*key]) +
                                                                     ", an entry of its pick)"
                                                               : std::string()));
            };
            effect(nullptr, 0, f.pos);
            for (auto& [key, param] : f.params)
                for (std::size_t i = 1; i < param.choices.size(); ++i)
                    effect(&key, i, i < param.choice_pos.size() ? param.choice_pos[i] : param.pos);
        }
    }

    void check_trainer() {
        if (!s_.trainer) return;
        for (auto& h : s_.trainer->hints)
            if (h.text.empty()) diags_.error(h.pos, "a hint needs text");
        for (auto& ch : s_.trainer->checks) {
            auto host_ref = [&](const std::string& name, std::string_view key) {
                if (!name.empty() && !c_.find_host(name)) diags_.error(ch.pos, std::string(key) + ": " + unknown_host(name, c_));
            };
            if (ch.kind == "deliver") {
                for (auto [v, k] : {std::pair{&ch.from, "from"}, std::pair{&ch.to, "to"}})
                    if (v->empty()) diags_.error(ch.pos, "a deliver check needs `" + std::string(k) + "`");
                    else if (!valid_mail_address(*v)) diags_.error(ch.pos, "`" + std::string(k) + "` " + quote(*v) + " is not an e-mail address");
                host_ref(ch.via, "via");
                if (!ch.expect.empty() && ch.expect != "delivered" && ch.expect != "bounced" && ch.expect != "queued")
                    diags_.error(ch.pos, "a deliver check expects delivered, bounced or queued, not " + quote(ch.expect));
            } else if (ch.kind == "resolve") {
                if (ch.name.empty()) diags_.error(ch.pos, "a resolve check needs `name`");
                if (!ch.type.empty() && !fake_dns::parse_type(ch.type))
                    diags_.error(ch.pos, "unknown record type " + quote(ch.type));
                if (ch.expect.empty()) diags_.error(ch.pos, "a resolve check needs `expect` (an answer or \"nxdomain\")");
                host_ref(ch.via, "via");
            } else if (ch.kind == "connect") {
                if (ch.host.empty()) diags_.error(ch.pos, "a connect check needs `host`");
                host_ref(ch.host, "host");
                host_ref(ch.from, "from");
                if (!ch.expect.empty() && ch.expect != "open" && ch.expect != "refused" && ch.expect != "timeout")
                    diags_.error(ch.pos, "a connect check expects open, refused or timeout, not " + quote(ch.expect));
            }
        }
    }

    void check_expect() {
        if (!s_.expect) return;
        for (auto& e : *s_.expect) {
            if (!e.kind.empty() && !find_fault_kind(e.kind)) {
                std::string msg = "unknown fault kind " + quote(e.kind);
                if (auto s = support::did_you_mean(e.kind, fault_kind_names())) msg += " — did you mean " + quote(*s) + "?";
                diags_.error(e.pos, msg);
            }
        }
    }

    const scenario& s_;
    const configuration& c_;
    diagnostics& diags_;
    int octet_ = 25;
    std::map<ipv4, std::string> owners_;
};

}  // namespace

void validate(const scenario& s, diagnostics& diags) { validator(s, diags).run(); }

}  // namespace sim
