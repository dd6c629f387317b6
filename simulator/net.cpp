#include "simulator/net.hpp"

#include <deque>

namespace sim {

using support::format_ipv4;

network::network(const configuration& config) : config_(config) {
    for (auto& r : config.routers) routers_.push_back({&r, {}});
    for (std::size_t i = 0; i < routers_.size(); ++i)
        for (std::size_t j = 0; j < routers_.size(); ++j) {
            if (i == j) continue;
            auto& a = *routers_[i].config;
            auto& b = *routers_[j].config;
            bool joined = false;
            if (auto* l = config.find_link(a.name, b.name); l && l->up) joined = true;
            // Routers with addresses on one segment reach each other across it.
            for (auto x : a.addresses)
                for (auto y : b.addresses)
                    if (auto* s = segment_of(x); s && s->cidr.contains(y)) joined = true;
            if (joined) routers_[i].neighbours.push_back(j);
        }
}

const segment_config* network::segment_of(ipv4 a) const { return config_.segment_of(a); }

std::optional<std::size_t> network::router_with(ipv4 address) const {
    for (std::size_t i = 0; i < routers_.size(); ++i)
        for (auto a : routers_[i].config->addresses)
            if (a == address) return i;
    return std::nullopt;
}

ipv4 network::address_on(std::size_t r, const segment_config* seg) const {
    for (auto a : routers_[r].config->addresses)
        if (seg && seg->cidr.contains(a)) return a;
    return 0;
}

route_result network::route(ipv4 from, ipv4 to) const {
    route_result out;
    if (from == to) {
        out.ok = true;
        return out;
    }
    auto* src_host = config_.host_at(from);
    auto* dst_host = config_.host_at(to);
    if ((src_host && !src_host->tcpip_installed) || (dst_host && !dst_host->tcpip_installed)) {
        out.failure = "TCP/IP is not installed on " + (src_host && !src_host->tcpip_installed ? src_host->name : dst_host->name);
        return out;
    }
    auto* src_seg = segment_of(from);
    auto* dst_seg = segment_of(to);
    if (!src_seg) {
        out.failure = format_ipv4(from) + " is on no network segment";
        return out;
    }
    if (!dst_seg) {
        out.failure = "no route to " + format_ipv4(to);
        return out;
    }
    if (src_seg == dst_seg) {
        out.ok = true;
        return out;
    }

    // The first router: the source itself when it is a router, else the host's gateway.
    std::optional<std::size_t> first = router_with(from);
    if (!first) {
        if (!src_host || !src_host->gateway) {
            out.failure = "no default gateway on " + (src_host ? src_host->name : format_ipv4(from));
            return out;
        }
        auto gw = *src_host->gateway;
        first = router_with(gw);
        if (!first || !src_seg->cidr.contains(gw)) {
            out.failure = "default gateway " + format_ipv4(gw) + " does not answer on " + src_seg->name;
            return out;
        }
        out.hops.push_back(gw);
    }

    // Breadth-first across routers that forward (IP routing on), to one with an
    // address on the destination's segment.
    std::vector<int> parent(routers_.size(), -2);
    std::deque<std::size_t> todo{*first};
    parent[*first] = -1;
    std::optional<std::size_t> last;
    while (!todo.empty()) {
        auto r = todo.front();
        todo.pop_front();
        if (!routers_[r].config->ip_routing) continue;
        if (address_on(r, dst_seg)) {
            last = r;
            break;
        }
        for (auto n : routers_[r].neighbours)
            if (parent[n] == -2) {
                parent[n] = static_cast<int>(r);
                todo.push_back(n);
            }
    }
    if (!last) {
        auto& fr = *routers_[*first].config;
        out.failure = fr.ip_routing ? "no route from " + fr.name + " to " + dst_seg->name
                                    : "IP routing is disabled on " + fr.name;
        return out;
    }
    std::vector<std::size_t> chain;
    for (int r = static_cast<int>(*last); r >= 0; r = parent[static_cast<std::size_t>(r)]) chain.insert(chain.begin(), static_cast<std::size_t>(r));
    // Hops after the first router are named by their first address.
    for (std::size_t i = 1; i < chain.size(); ++i) out.hops.push_back(routers_[chain[i]].config->addresses.front());
    out.ok = true;
    return out;
}

bool network::reachable(ipv4 from, ipv4 to) const { return route(from, to).ok && route(to, from).ok; }

}  // namespace sim
