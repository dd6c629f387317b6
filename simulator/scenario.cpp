#include "simulator/scenario.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

namespace sim {

std::string_view to_string(role r) {
    switch (r) {
        case role::dns: return "dns";
        case role::relay: return "relay";
        case role::mailstore: return "mailstore";
        case role::exchange: return "exchange";
        case role::client: return "client";
    }
    return "?";
}

std::string_view to_string(smtp_phase p) {
    switch (p) {
        case smtp_phase::banner: return "banner";
        case smtp_phase::ehlo: return "ehlo";
        case smtp_phase::mail: return "mail";
        case smtp_phase::rcpt: return "rcpt";
        case smtp_phase::data: return "data";
        case smtp_phase::dot: return "dot";
    }
    return "?";
}

std::optional<smtp_phase> parse_phase(std::string_view s) {
    for (auto p : {smtp_phase::banner, smtp_phase::ehlo, smtp_phase::mail, smtp_phase::rcpt, smtp_phase::data,
                   smtp_phase::dot})
        if (support::iequals(to_string(p), s)) return p;
    return std::nullopt;
}

std::string_view to_string(transfer_mode m) {
    switch (m) {
        case transfer_mode::none: return "none";
        case transfer_mode::inbound: return "inbound";
        case transfer_mode::outbound: return "outbound";
        case transfer_mode::inbound_outbound: return "inbound_outbound";
    }
    return "?";
}

std::optional<transfer_mode> parse_transfer_mode(std::string_view s) {
    for (auto m : {transfer_mode::none, transfer_mode::inbound, transfer_mode::outbound, transfer_mode::inbound_outbound})
        if (support::iequals(to_string(m), s)) return m;
    return std::nullopt;
}

bool host_config::has_role(role r) const { return std::find(roles.begin(), roles.end(), r) != roles.end(); }

bool host_config::operator==(const host_config& o) const {
    return name == o.name && fqdn == o.fqdn && address == o.address && gateway == o.gateway &&
           dns_servers == o.dns_servers && roles == o.roles && smtp == o.smtp && exchange == o.exchange &&
           tcpip_installed == o.tcpip_installed && dns == o.dns && smtp_service == o.smtp_service;
}

namespace {
template <typename Vec, typename Pred>
auto find_in(Vec& v, Pred p) -> decltype(&v[0]) {
    for (auto& x : v)
        if (p(x)) return &x;
    return nullptr;
}
std::string strip_dot(std::string_view s) {
    if (!s.empty() && s.back() == '.') s.remove_suffix(1);
    return std::string(s);
}
}  // namespace

const host_config* configuration::find_host(std::string_view n) const {
    auto key = strip_dot(n);
    return find_in(hosts, [&](auto& h) { return support::iequals(h.name, key) || support::iequals(h.fqdn, key); });
}
host_config* configuration::find_host(std::string_view n) {
    return const_cast<host_config*>(std::as_const(*this).find_host(n));
}
const host_config* configuration::host_at(ipv4 a) const {
    return find_in(hosts, [&](auto& h) { return h.address == a; });
}
const router_config* configuration::find_router(std::string_view n) const {
    return find_in(routers, [&](auto& r) { return support::iequals(r.name, n); });
}
router_config* configuration::find_router(std::string_view n) {
    return const_cast<router_config*>(std::as_const(*this).find_router(n));
}
const segment_config* configuration::find_segment(std::string_view n) const {
    return find_in(segments, [&](auto& s) { return support::iequals(s.name, n); });
}
const segment_config* configuration::segment_of(ipv4 a) const {
    return find_in(segments, [&](auto& s) { return s.cidr.contains(a); });
}
const link_config* configuration::find_link(std::string_view a, std::string_view b) const {
    return find_in(links, [&](auto& l) {
        return (support::iequals(l.a, a) && support::iequals(l.b, b)) ||
               (support::iequals(l.a, b) && support::iequals(l.b, a));
    });
}
link_config* configuration::find_link(std::string_view a, std::string_view b) {
    return const_cast<link_config*>(std::as_const(*this).find_link(a, b));
}
const zone_config* configuration::find_zone(std::string_view origin) const {
    auto key = strip_dot(origin);
    return find_in(zones, [&](auto& z) { return support::iequals(z.origin, key); });
}
zone_config* configuration::find_zone(std::string_view origin) {
    return const_cast<zone_config*>(std::as_const(*this).find_zone(origin));
}
const zone_config* configuration::zone_for(std::string_view name) const {
    auto key = fake_dns::canonical_name(name);
    const zone_config* best = nullptr;
    for (auto& z : zones)
        if (fake_dns::in_zone(key, z.origin) && (!best || z.origin.size() > best->origin.size())) best = &z;
    return best;
}
zone_config* configuration::zone_for(std::string_view name) {
    return const_cast<zone_config*>(std::as_const(*this).zone_for(name));
}

std::string to_string(const param_value& v) {
    struct visitor {
        std::string operator()(const std::string& s) const { return s; }
        std::string operator()(std::int64_t i) const { return std::to_string(i); }
        std::string operator()(double d) const {
            auto s = std::to_string(d);
            while (s.size() > 1 && s.back() == '0') s.pop_back();
            if (!s.empty() && s.back() == '.') s.pop_back();
            return s;
        }
        std::string operator()(bool b) const { return b ? "true" : "false"; }
        std::string operator()(const std::vector<std::string>& l) const {
            std::string out;
            for (auto& s : l) {
                if (!out.empty()) out += ",";
                out += s;
            }
            return out;
        }
    };
    return std::visit(visitor{}, v);
}

std::string fault::text(std::string_view key) const {
    auto it = params.find(std::string(key));
    return it == params.end() ? std::string{} : to_string(it->second);
}

std::vector<std::string> fault::list(std::string_view key) const {
    auto it = params.find(std::string(key));
    if (it == params.end()) return {};
    if (auto* l = std::get_if<std::vector<std::string>>(&it->second)) return *l;
    return {to_string(it->second)};
}

std::optional<int> parse_prefix(std::string_view prefix) {
    if (prefix.substr(0, 4) != "127.") return std::nullopt;
    auto rest = prefix.substr(4);
    int n = -1;
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
    if (ec != std::errc{} || p != rest.data() + rest.size() || rest.empty() || (rest.size() > 1 && rest[0] == '0'))
        return std::nullopt;
    if (n < 1 || n > 255) return std::nullopt;
    return n;
}

}  // namespace sim
