#include "simulator/relocate.hpp"

namespace sim {

namespace {

struct mover {
    ipv4 from_net, to_net;
    std::string from_rev, to_rev;  // "25.127.in-addr.arpa"

    ipv4 addr(ipv4 a) const { return (a & 0xffff0000u) == from_net ? (a & 0xffffu) | to_net : a; }

    void text(std::string& s) const {
        if (auto a = support::parse_ipv4(s)) s = support::format_ipv4(addr(*a));
    }

    void name(std::string& n) const {
        if (n == from_rev) n = to_rev;
        else if (n.size() > from_rev.size() && n.ends_with("." + from_rev))
            n = n.substr(0, n.size() - from_rev.size()) + to_rev;
    }

    void value(param_value& v) const {
        if (auto* s = std::get_if<std::string>(&v)) text(*s);
        else if (auto* l = std::get_if<std::vector<std::string>>(&v))
            for (auto& x : *l) text(x);
    }
};

}  // namespace

void relocate(scenario& s, int octet) {
    auto old = parse_prefix(s.lab.prefix).value_or(25);
    if (old == octet) return;
    mover m{(127u << 24) | (static_cast<ipv4>(old) << 16), (127u << 24) | (static_cast<ipv4>(octet) << 16),
            std::to_string(old) + ".127.in-addr.arpa", std::to_string(octet) + ".127.in-addr.arpa"};
    auto& c = s.answer;
    for (auto& seg : c.segments) seg.cidr.network = m.addr(seg.cidr.network);
    for (auto& r : c.routers)
        for (auto& a : r.addresses) a = m.addr(a);
    for (auto& h : c.hosts) {
        h.address = m.addr(h.address);
        if (h.gateway) h.gateway = m.addr(*h.gateway);
        for (auto& d : h.dns_servers) d = m.addr(d);
        if (h.smtp) {
            for (auto& r : h.smtp->routes) m.text(r.next_hop);
            m.text(h.smtp->smart_host);
        }
        if (h.exchange) {
            for (auto& d : h.exchange->imc.email_domains) m.text(d.host);
            m.text(h.exchange->imc.smart_host);
        }
    }
    for (auto& z : c.zones) {
        m.name(z.origin);
        for (auto& r : z.records) {
            m.name(r.owner);
            if (auto* a = std::get_if<fake_dns::a_data>(&r.data)) a->address = m.addr(a->address);
        }
    }
    if (s.trainer)
        for (auto& ch : s.trainer->checks) m.text(ch.expect);
    for (auto& f : s.faults)
        for (auto& [key, p] : f.params)
            for (auto& v : p.choices) m.value(v);
    s.lab.prefix = "127." + std::to_string(octet);
}

}  // namespace sim
